using System.Text.Json;
using System.Text.RegularExpressions;
using Affinetes.Protocol;
using Affinetes.Testing;
using Docker.DotNet.Models;

namespace Affinetes.Afs.Tests;

/// <summary>
/// The C#, sidecar and http_based images, each built by <c>afs build</c>, removed at the end with every container
/// these tests started.
/// </summary>
public sealed class AfsRuntimesFixture : IAsyncLifetime
{
    public Docker.DotNet.DockerClient Docker { get; } = DockerEngine.CreateClient();

    private readonly string _id = Guid.NewGuid().ToString("N")[..8];

    public string CSharpArith => $"affinetes-test/csharp-arith:{_id}";
    public string PythonArith => $"affinetes-test/python-arith-twin:{_id}";
    public string SidecarArith => $"affinetes-test/sidecar-arith:{_id}";
    public string HttpBased => $"affinetes-test/http-based:{_id}";

    /// <summary>Start of every environment name these tests use.</summary>
    public string Prefix { get; } = $"afs-r{Guid.NewGuid().ToString("N")[..6]}-";

    public async Task InitializeAsync()
    {
        await DockerEngine.RequireImageAsync(Docker, DockerEngine.PythonBaseImage);
        foreach (var (directory, tag) in new[]
        {
            (Path.Combine(RepositoryRoot.Path, "environments", "csharp-arith"), CSharpArith),
            (Path.Combine(RepositoryRoot.Path, "environments", "python-arith"), PythonArith),
            (Path.Combine(RepositoryRoot.Path, "environments", "sidecar-arith"), SidecarArith),
            (Path.Combine(AppContext.BaseDirectory, "Envs", "http_based"), HttpBased),
        })
        {
            var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync("build", directory, "--tag", tag, "--quiet");
            Assert.True(exit == 0, $"afs build {directory} failed:\n{error}\n{output}");
        }
    }

    public async Task DisposeAsync()
    {
        var leftovers = await Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true });
        foreach (var container in leftovers.Where(c => c.Labels.TryGetValue(AfsEnvironmentFixture.NameLabel, out var name) && name.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            await DockerEngine.RemoveContainerQuietlyAsync(Docker, container.ID);
        }
        foreach (var image in new[] { CSharpArith, PythonArith, SidecarArith, HttpBased })
        {
            await DockerEngine.RemoveImageQuietlyAsync(Docker, image);
        }
        Docker.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class AfsRuntimesCollection : ICollectionFixture<AfsRuntimesFixture>
{
    public const string Name = "afs-runtimes";
}

/// <summary>C# actors, sidecars and the original's http_based environments, built by afs build and run in Docker.</summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(AfsRuntimesCollection.Name)]
public sealed class AfsRuntimesDockerTests(AfsRuntimesFixture fixture) : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-afs-runtimes-");

    public void Dispose() => _work.Delete(recursive: true);

    private static Task<(int Exit, string Output, string Error)> AfsAsync(params string[] args) => AfsEnvironmentFixture.AfsAsync(args);

    private async Task<IDictionary<string, string>> LabelsAsync(string image) => (await fixture.Docker.Images.InspectImageAsync(image)).Config!.Labels!;

    private static async Task<JsonElement> CallAsync(string name, string method, params string[] arguments)
    {
        var (exit, output, error) = await AfsAsync(["call", name, method, .. arguments.SelectMany(a => new[] { "--arg", a })]);
        Assert.True(exit == 0, $"afs call {name} {method} exited {exit}: {error}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    [Fact]
    public async Task CSharpArith_ServedFromItsCompileCache_ScoresThroughTheOpenAiSdk_AndAgreesWithPythonArith()
    {
        var labels = await LabelsAsync(fixture.CSharpArith);
        Assert.Equal(("function_based", "csharp"), (labels[ImageLabels.EnvType], labels[ImageLabels.Runtime]));

        var expected = new Dictionary<string, string>();
        await using var llm = await LocalLlmServer.StartAsync(request =>
            LlmReply.Text(expected.TryGetValue(request.LastUserMessage, out var reply) ? reply : "I don't know"));
        var csharp = fixture.Prefix + "cs";
        var python = fixture.Prefix + "py";
        try
        {
            foreach (var (image, name) in new[] { (fixture.CSharpArith, csharp), (fixture.PythonArith, python) })
            {
                var (exit, _, error) = await AfsAsync("run", image, "--name", name, "--host-network", "--env", "CHUTES_API_KEY=sk-docker");
                Assert.True(exit == 0, error);
            }
            var (_, logs, _) = await AfsAsync("logs", csharp);
            Assert.Contains("compile cache hit", logs); // the image's build compiled Actor.cs: no Roslyn at start

            for (var task = 0; task < 6; task++)
            {
                var problem = await CallAsync(csharp, "generate", $"task_id={task}");
                Assert.Equal((await CallAsync(python, "generate", $"task_id={task}")).GetRawText(), problem.GetRawText());
                expected[problem.GetProperty("prompt").GetString()!] = task % 2 == 0 ? $"Answer: {problem.GetProperty("expected").GetInt64()}" : "Answer: 1";
                var arguments = new[] { $"task_id={task}", "model=m", $"base_url={llm.BaseUrl}", "timeout=10" };
                var fromCSharp = await CallAsync(csharp, "evaluate", arguments);
                var fromPython = await CallAsync(python, "evaluate", arguments);
                Assert.Equal(task % 2 == 0 ? 1.0 : 0.0, fromCSharp.GetProperty("score").GetDouble());
                Assert.Equal(fromPython.EnumerateObject().Select(p => p.Name), fromCSharp.EnumerateObject().Select(p => p.Name));
                foreach (var field in new[] { "task_id", "seed", "score", "success", "model", "prompt", "expected", "answer", "response" })
                {
                    Assert.Equal(fromPython.GetProperty(field).GetRawText(), fromCSharp.GetProperty(field).GetRawText());
                }
            }
            Assert.All(llm.Requests, r => Assert.Equal("Bearer sk-docker", r.Authorization));
        }
        finally
        {
            await AfsAsync("stop", csharp);
            await AfsAsync("stop", python);
        }
    }

    [Theory]
    [InlineData("csharp", "Actor.cs")]
    [InlineData("sidecar", "sidecar.json")]
    public async Task InitStarter_BuildsAndAnswers(string kind, string marker)
    {
        var directory = Path.Combine(_work.FullName, $"starter-{kind}");
        var (initExit, initOutput, initError) = await AfsAsync("init", directory, "--kind", kind);
        Assert.True(initExit == 0, initError);
        Assert.Contains($"created {kind} environment", initOutput);
        Assert.True(File.Exists(Path.Combine(directory, marker)));
        var tag = $"affinetes-test/starter-{kind}:{Guid.NewGuid():N}";
        try
        {
            var (buildExit, _, buildError) = await AfsAsync("build", directory, "--tag", tag, "--quiet");
            Assert.True(buildExit == 0, buildError);
            Assert.Equal(kind, (await LabelsAsync(tag))[ImageLabels.Runtime]);
            await using var container = await DockerEngine.RunAsync(fixture.Docker, tag, null, 8000).Within(what: "starting the starter");
            await DockerEngine.WaitReadyAsync(container);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            using var response = await http.PostAsync($"http://127.0.0.1:{container.HostPort}/generate", new StringContent("""{"task_id":1}"""));
            var result = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.True(response.IsSuccessStatusCode, result.GetRawText());
            Assert.Contains("How many coins does Mia have now?", result.GetProperty("result").GetProperty("prompt").GetString());
        }
        finally
        {
            await DockerEngine.RemoveImageQuietlyAsync(fixture.Docker, tag);
        }
    }

    [Fact]
    public async Task CSharpCompileErrors_FailTheBuildWithFileLineColumn()
    {
        var directory = Directory.CreateDirectory(Path.Combine(_work.FullName, "broken-cs"));
        File.WriteAllText(Path.Combine(directory.FullName, "Actor.cs"), "public class Actor\n{\n    public int Add(int a) => a + b;\n}\n");
        File.WriteAllText(Path.Combine(directory.FullName, "Dockerfile"), "FROM python:3.11-slim\nWORKDIR /app\nCOPY Actor.cs /app/Actor.cs\n");
        var tag = $"affinetes-test/broken-cs:{Guid.NewGuid():N}";
        var (exit, _, error) = await AfsAsync("build", directory.FullName, "--tag", tag, "--quiet");
        Assert.Equal(1, exit);
        Assert.Contains("/app/Actor.cs:3:34: error CS0103: The name 'b' does not exist in the current context", error);
        Assert.Empty(await fixture.Docker.Images.ListImagesAsync(new ImagesListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["reference"] = new Dictionary<string, bool> { [tag] = true } } }));
    }

    [Fact]
    public async Task CSharpAndSidecarImages_WorkWithAfsRunAndCallUnchanged()
    {
        foreach (var (image, name, method) in new[] { (fixture.CSharpArith, fixture.Prefix + "cs-call", "generate"), (fixture.SidecarArith, fixture.Prefix + "sc-call", "generate") })
        {
            try
            {
                var (exit, output, error) = await AfsAsync("run", image, "--name", name, "--replicas", "2");
                Assert.True(exit == 0, error);
                Assert.Matches(new Regex($@"^{method}\s", RegexOptions.Multiline), output); // the method table is listed
                var result = await CallAsync(name, method, "task_id=3");
                Assert.Equal(3, result.GetProperty("task_id").GetInt32());
                var (badExit, _, badError) = await AfsAsync("call", name, "no_such_method");
                Assert.Equal(3, badExit);
                Assert.Contains("no_such_method", badError);
            }
            finally
            {
                await AfsAsync("stop", name);
            }
        }
    }

    [Fact]
    public async Task SidecarArith_IsLabelledHttpBased_ServesItsOwnOpenApi_AndScores()
    {
        var labels = await LabelsAsync(fixture.SidecarArith);
        Assert.Equal(("http_based", "sidecar"), (labels[ImageLabels.EnvType], labels[ImageLabels.Runtime]));
        await using var container = await DockerEngine.RunAsync(fixture.Docker, fixture.SidecarArith, null, 8000).Within(what: "starting sidecar-arith");
        await DockerEngine.WaitReadyAsync(container);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{container.HostPort}"), Timeout = TimeSpan.FromSeconds(10) };
        var openApi = JsonDocument.Parse(await http.GetStringAsync("/openapi.json")).RootElement;
        Assert.Equal("sidecar-arith", openApi.GetProperty("info").GetProperty("title").GetString());
        using var generated = await http.PostAsync("/generate", new StringContent("""{"task_id":3}"""));
        var expected = JsonDocument.Parse(await generated.Content.ReadAsStringAsync()).RootElement.GetProperty("result").GetProperty("expected").GetInt64();
        using var scored = await http.PostAsync("/call", new StringContent("{\"method\":\"evaluate\",\"kwargs\":{\"task_id\":3,\"answer\":" + expected + "}}"));
        Assert.Equal(1.0, JsonDocument.Parse(await scored.Content.ReadAsStringAsync()).RootElement.GetProperty("result").GetProperty("score").GetDouble());
        // Without an answer it asks the model, and this container has no key: a failed result that says so.
        using var keyless = await http.PostAsync("/call", new StringContent("""{"method":"evaluate","kwargs":{"task_id":3,"base_url":"http://127.0.0.1:9/v1"}}"""));
        var failed = JsonDocument.Parse(await keyless.Content.ReadAsStringAsync()).RootElement.GetProperty("result");
        Assert.Equal((false, 0.0), (failed.GetProperty("success").GetBoolean(), failed.GetProperty("score").GetDouble()));
        Assert.Equal("CHUTES_API_KEY (or OPENAI_API_KEY) is not set in the environment", failed.GetProperty("error").GetString());
    }

    [Fact]
    public async Task SidecarArith_Evaluate_AsksTheModelFromItsOwnServer_AndScoresTheReply()
    {
        var replies = new Dictionary<string, string>();
        await using var llm = await LocalLlmServer.StartAsync(request =>
            LlmReply.Text(replies.TryGetValue(request.LastUserMessage, out var reply) ? reply : "I don't know"));
        var name = fixture.Prefix + "sc";
        try
        {
            var (exit, _, error) = await AfsAsync("run", fixture.SidecarArith, "--name", name, "--host-network", "--env", "CHUTES_API_KEY=sk-sidecar");
            Assert.True(exit == 0, error);
            var (_, methods, _) = await AfsAsync("methods", name);
            Assert.Contains("base_url", methods); // from the server's own /openapi.json, so afs eval passes the model side
            for (var task = 0; task < 5; task++)
            {
                var problem = await CallAsync(name, "generate", $"task_id={task}");
                var expected = problem.GetProperty("expected").GetInt64();
                // Right, wrong, right with other numbers before it, and no number at all.
                replies[problem.GetProperty("prompt").GetString()!] = task switch
                {
                    0 => $"Answer: {expected}",
                    1 => "Answer: 1",
                    2 => $"First 12 * 3 = 36, then the rest. Answer: {expected.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)}",
                    _ => "I don't know",
                };
                var result = await CallAsync(name, "evaluate", $"task_id={task}", "model=m", $"base_url={llm.BaseUrl}", "timeout=10");
                Assert.Equal(task is 0 or 2 ? 1.0 : 0.0, result.GetProperty("score").GetDouble());
                Assert.Equal(task < 3, result.GetProperty("success").GetBoolean());
                Assert.Equal("m", result.GetProperty("model").GetString());
                Assert.Equal(replies.GetValueOrDefault(problem.GetProperty("prompt").GetString()!, "I don't know"), result.GetProperty("response").GetString());
                if (task >= 3)
                {
                    Assert.Equal("no integer answer found in the model's reply", result.GetProperty("error").GetString());
                }
            }
            Assert.Equal(5, llm.Requests.Count);
            Assert.All(llm.Requests, r => Assert.Equal(("Bearer sk-sidecar", "m"), (r.Authorization, r.Model)));
        }
        finally
        {
            await AfsAsync("stop", name);
        }
    }

    [Fact]
    public async Task SidecarAsPid1_ReapsTheProcessesItsServerOrphaned()
    {
        // The shell starts a background sleep in a subshell that exits at once: the sleep is re-parented to PID 1, the
        // host. When it ends, only PID 1 can reap it; without that it would stay a zombie for the container's life.
        await using var container = await DockerEngine.RunAsync(fixture.Docker, fixture.SidecarArith, null, 8000, new Dictionary<string, string>
        {
            ["AFFINETES_SIDECAR_COMMAND"] = """["/bin/sh", "-c", "(sleep 1 &); exec python3 /app/server.py"]""",
        }).Within(what: "starting sidecar-arith");
        await DockerEngine.WaitReadyAsync(container);
        async Task<List<string>> ProcessesAsync() => [.. (await fixture.Docker.Containers.ListProcessesAsync(container.Id,
            new ContainerListProcessesParameters { PsArgs = "-o pid,ppid,stat,comm" })).Processes.Select(p => string.Join(' ', p))];
        await Bounded.Until(async () => !(await ProcessesAsync()).Any(p => p.Contains("sleep", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(20), "the orphaned sleep exiting and being reaped");
        Assert.DoesNotContain(await ProcessesAsync(), p => p.Split(' ')[2].StartsWith('Z'));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.PostAsync($"http://127.0.0.1:{container.HostPort}/generate", new StringContent("""{"task_id":1}"""));
        Assert.True(response.IsSuccessStatusCode);
    }

    [Fact]
    public async Task HttpBasedEnvironment_KeepsItsServer_FrontedWithAuthDeadlinesAndReady()
    {
        var labels = await LabelsAsync(fixture.HttpBased);
        Assert.Equal(("http_based", "sidecar"), (labels[ImageLabels.EnvType], labels[ImageLabels.Runtime]));
        await using var container = await DockerEngine.RunAsync(fixture.Docker, fixture.HttpBased, null, 8000,
            new Dictionary<string, string> { ["AFFINETES_AUTH_TOKEN"] = "tok" }).Within(what: "starting the http_based image");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{container.HostPort}"), Timeout = TimeSpan.FromSeconds(10) };
        await Bounded.Until(async () =>
        {
            try
            {
                using var health = await http.GetAsync("/health");
                return health.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "the http_based image becoming ready");

        using (var refused = await http.PostAsync("/evaluate", new StringContent("""{"model":"m","task_id":2}""")))
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
        }
        http.DefaultRequestHeaders.Authorization = new("Bearer", "tok");
        var openApi = JsonDocument.Parse(await http.GetStringAsync("/openapi.json")).RootElement;
        Assert.Equal("http-based test environment", openApi.GetProperty("info").GetProperty("title").GetString()); // FastAPI's own document
        var methods = JsonDocument.Parse(await http.GetStringAsync("/methods")).RootElement.GetProperty("methods").EnumerateArray()
            .Select(m => m.GetProperty("name").GetString()).ToList();
        Assert.Equal(["evaluate", "reset", "step"], methods);

        // The original's client calls POST /{method} with the kwargs as the body; ours calls /call. Both work.
        using var direct = await http.PostAsync("/evaluate", new StringContent("""{"model":"m","task_id":2,"seed":null}"""));
        var result = JsonDocument.Parse(await direct.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("success", result.GetProperty("status").GetString());
        Assert.Equal(1.0, result.GetProperty("result").GetProperty("score").GetDouble());
        using var viaCall = await http.PostAsync("/call", new StringContent("""{"method":"step","kwargs":{"action":5}}"""));
        Assert.Equal(5, JsonDocument.Parse(await viaCall.Content.ReadAsStringAsync()).RootElement.GetProperty("result").GetProperty("position").GetInt32());
        using var invalid = await http.PostAsync("/evaluate", new StringContent("""{"model":"m"}"""));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Contains("task_id", await invalid.Content.ReadAsStringAsync());

        await fixture.Docker.Containers.StopContainerAsync(container.Id, new ContainerStopParameters { WaitBeforeKillSeconds = 20 });
        var stopped = await fixture.Docker.Containers.InspectContainerAsync(container.Id);
        Assert.Equal(0, stopped.State!.ExitCode); // SIGTERM: the host stopped uvicorn and exited cleanly
        Assert.Contains("sidecar stopped", await container.LogsAsync());
    }
}
