using System.Diagnostics;
using Affinetes.Injector.Building;
using Affinetes.Injector.Detection;
using Affinetes.Protocol;
using Affinetes.Testing;
using Docker.DotNet.Models;

namespace Affinetes.Injector.Tests;

/// <summary>Builds against the real engine: the example environment, a starter, git sources, broken ones, a registry.</summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(InjectorDockerCollection.Name)]
public sealed class InjectorDockerTests(InjectorDockerFixture fixture) : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-build-test-");

    public void Dispose() => _work.Delete(recursive: true);

    private string WriteEnvironment(string name, string envPy, string dockerfile = "FROM python:3.11-slim\nWORKDIR /app\nCOPY env.py /app/env.py\n")
    {
        var dir = Path.Combine(_work.FullName, name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "env.py"), envPy);
        File.WriteAllText(Path.Combine(dir, "Dockerfile"), dockerfile);
        return dir;
    }

    [Fact]
    public async Task ExampleEnvironment_BuildsRunsAndScoresAgainstAnOpenAiCompatibleServer()
    {
        var tag = fixture.NewTag("python-arith");
        var built = await fixture.BuildAsync(Path.Combine(RepositoryRoot.Path, "environments", "python-arith"), tag);
        Assert.Equal(EnvironmentKinds.Python, built.Kind);

        var expected = new Dictionary<string, int>();
        await using var llm = await LocalLlmServer.StartAsync(request =>
            expected.TryGetValue(request.LastUserMessage, out var answer) ? LlmReply.Text($"Answer: {answer}") : LlmReply.Text("I don't know"));
        var port = Affinetes.Testing.DockerEngine.FreeLoopbackPort();
        await using var container = await DockerEngine.RunOnHostNetworkAsync(fixture.Docker, tag, port,
            new Dictionary<string, string> { ["CHUTES_API_KEY"] = "sk-test" });
        await DockerEngine.WaitReadyAsync(container);

        var task = await InjectorDockerFixture.CallAsync(container, "generate", """{"task_id":7}""");
        expected[task.GetProperty("prompt").GetString()!] = task.GetProperty("expected").GetInt32();

        var result = await InjectorDockerFixture.CallAsync(container, "evaluate", $$"""{"task_id":7,"model":"m","base_url":"{{llm.BaseUrl}}"}""");
        Assert.Equal(7, result.GetProperty("task_id").GetInt32());
        Assert.Equal(1.0, result.GetProperty("score").GetDouble());
        Assert.True(result.GetProperty("success").GetBoolean());
        Assert.Equal("m", result.GetProperty("model").GetString());
        Assert.Equal("Bearer sk-test", Assert.Single(llm.Requests).Authorization);

        var wrong = await InjectorDockerFixture.CallAsync(container, "evaluate", $$"""{"task_id":8,"model":"m","base_url":"{{llm.BaseUrl}}"}""");
        Assert.Equal(0.0, wrong.GetProperty("score").GetDouble());
    }

    [Fact]
    public async Task BuiltImage_CarriesLabelsHealthcheckAndEntryPoint_AndLeavesNoTemporaryImage()
    {
        var dir = WriteEnvironment("labels", "class Actor:\n    def ping(self):\n        return 'pong'\n");
        var tag = fixture.NewTag("labels");
        var built = await fixture.BuildAsync(dir, tag);
        var image = await fixture.Docker.Images.InspectImageAsync(tag);
        Assert.Equal("function_based", image.Config!.Labels![ImageLabels.EnvType]);
        Assert.Equal(Dockerfiles.HostLayer.Version, image.Config.Labels[ImageLabels.HostVersion]);
        Assert.Equal(Sources.SourceDigest.Compute(dir), image.Config.Labels[ImageLabels.SourceDigest]);
        Assert.Equal(built.SourceDigest, image.Config.Labels[ImageLabels.SourceDigest]);
        Assert.Equal(["/opt/affinetes/host/affinetes-host"], image.Config.Entrypoint);
        Assert.Contains("--health", image.Config.Healthcheck!.Test!);
        Assert.Contains("8000/tcp", image.Config.ExposedPorts!.Keys);

        // The environment image this build made is in the built image's history; its temporary tag must be gone.
        // (Other tests build at the same time, so the engine's whole list may hold their temporary tags for now.)
        var history = await fixture.Docker.Images.GetImageHistoryAsync(tag);
        Assert.Contains(history, h => h.ID.StartsWith("sha256:", StringComparison.Ordinal));
        Assert.DoesNotContain(history.SelectMany(h => h.Tags ?? []), t => t.StartsWith("affinetes-build/", StringComparison.Ordinal));

        await using var container = await fixture.RunReadyAsync(tag);
        Assert.Equal("pong", (await InjectorDockerFixture.CallAsync(container, "ping", "{}")).GetString());
    }

    [Fact]
    public async Task Build_RemovesTheTemporaryTagsKilledBuildsLeft_AndLeavesThoseOfRunningBuilds()
    {
        // What a build killed with SIGKILL two days ago left, and what one running now holds, on an image both share.
        var stale = ImageBuilder.TemporaryTag(DateTimeOffset.UtcNow.AddDays(-2));
        var running = ImageBuilder.TemporaryTag(DateTimeOffset.UtcNow);
        foreach (var tag in new[] { stale, running })
        {
            var (repository, version) = (tag[..tag.LastIndexOf(':')], tag[(tag.LastIndexOf(':') + 1)..]);
            await fixture.Docker.Images.TagImageAsync(DockerEngine.PythonBaseImage, new ImageTagParameters { RepositoryName = repository, Tag = version });
        }
        try
        {
            await fixture.BuildAsync(WriteEnvironment("sweep", "class Actor:\n    def ping(self):\n        return 'pong'\n"), fixture.NewTag("sweep"));

            var tags = (await fixture.Docker.Images.InspectImageAsync(DockerEngine.PythonBaseImage)).RepoTags;
            Assert.DoesNotContain(stale, tags);
            Assert.Contains(running, tags);
            Assert.Contains(DockerEngine.PythonBaseImage, tags); // only the tag went
        }
        finally
        {
            await fixture.Docker.Images.DeleteImageAsync(running, new ImageDeleteParameters { NoPrune = true });
        }
    }

    [Fact]
    public async Task GitUrl_WithCommitRefAndSubdirectory_BuildsThatVersion()
    {
        var work = Path.Combine(_work.FullName, "repo");
        var bare = Path.Combine(_work.FullName, "repo.git");
        Directory.CreateDirectory(Path.Combine(work, "envs", "versioned"));
        await Git(_work.FullName, "init", "--quiet", "--bare", bare);
        await Git(_work.FullName, "init", "--quiet", work);
        void Version(string v) => File.WriteAllText(Path.Combine(work, "envs", "versioned", "env.py"), $"class Actor:\n    def version(self):\n        return '{v}'\n");
        File.WriteAllText(Path.Combine(work, "envs", "versioned", "Dockerfile"), "FROM python:3.11-slim\nCOPY env.py /app/env.py\n");
        Version("one");
        await Git(work, "add", ".");
        await Git(work, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "--quiet", "-m", "one");
        var first = (await Git(work, "rev-parse", "HEAD")).Trim();
        Version("two");
        await Git(work, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "--quiet", "-am", "two");
        await Git(work, "push", "--quiet", bare, "HEAD:refs/heads/main");

        var tag = fixture.NewTag("git");
        await fixture.BuildAsync($"file://{bare}#{first}:envs/versioned", tag);
        await using (var container = await fixture.RunReadyAsync(tag))
        {
            Assert.Equal("one", (await InjectorDockerFixture.CallAsync(container, "version", "{}")).GetString());
        }
        var latest = fixture.NewTag("git-main");
        await fixture.BuildAsync($"file://{bare}#main:envs/versioned", latest);
        await using (var container = await fixture.RunReadyAsync(latest))
        {
            Assert.Equal("two", (await InjectorDockerFixture.CallAsync(container, "version", "{}")).GetString());
        }
        var missing = await Assert.ThrowsAsync<Sources.SourceException>(() => fixture.BuildAsync($"file://{bare}#main:envs/nope", fixture.NewTag("git-missing")));
        Assert.Contains("'envs/nope' does not exist", missing.Message);
    }

    private static async Task<string> Git(string directory, params string[] args)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        args.ToList().ForEach(start.ArgumentList.Add);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().Within(TimeSpan.FromSeconds(30));
        Assert.True(process.ExitCode == 0, $"git {string.Join(' ', args)}: {error}");
        return output;
    }

    [Theory]
    [InlineData("syntax", "class Actor:\n    def ping(self)\n        return 1\n", null, "syntax error at line 2")]
    [InlineData("no-actor", "class Agent:\n    pass\n", null, "defines no class named Actor")]
    [InlineData("import", "import not_installed_anywhere\nclass Actor:\n    pass\n", null, "No module named 'not_installed_anywhere'")]
    [InlineData("no-libpython", "class Actor:\n    pass\n",
        "FROM python:3.11-slim\nRUN rm -f /usr/lib/x86_64-linux-gnu/libpython3.11.so* /usr/local/lib/libpython3.11.so*\nCOPY env.py /app/env.py\n",
        "apt-get install -y libpython3.11")]
    [InlineData("silent-crash", "import os\nos.abort()\n", null, "without a message; run the image with --check")]
    [InlineData("bad-dockerfile", "class Actor:\n    pass\n", "FROM python:3.11-slim\nRUN exit 3\n", "returned a non-zero code: 3")]
    public async Task BrokenEnvironment_FailsTheBuildNamingTheProblem_AndLeavesNoImage(string name, string envPy, string? dockerfile, string message)
    {
        var dir = dockerfile is null ? WriteEnvironment(name, envPy) : WriteEnvironment(name, envPy, dockerfile);
        var tag = fixture.NewTag(name);
        var e = await Assert.ThrowsAsync<BuildException>(() => fixture.BuildAsync(dir, tag));
        Assert.Contains(message, e.Message);
        Assert.False(await fixture.ImageExistsAsync(tag), "a failed build left its image behind");
        // Nor any untagged layer of it (the host layer's steps carry the source's digest).
        var digest = Sources.SourceDigest.Compute(dir);
        var left = await fixture.Docker.Images.ListImagesAsync(new ImagesListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{ImageLabels.SourceDigest}={digest}"] = true } },
        });
        Assert.Empty(left);
    }

    [Fact]
    public async Task FailingStep_IsNamedWithItsOwnOutput_AndAFailedDownloadSaysBuildsHaveNoNetwork()
    {
        var dir = WriteEnvironment("download", "class Actor:\n    pass\n",
            "FROM python:3.11-slim\nRUN echo preparing\nRUN echo \"fetching numpy\" && echo \"Temporary failure in $(echo name) resolution\" >&2 && exit 1\nCOPY env.py /app/env.py\n");
        var e = await Assert.ThrowsAsync<BuildException>(() => fixture.BuildAsync(dir, fixture.NewTag("download")));
        Assert.Equal(BuildStage.EnvironmentImage, e.Stage);
        Assert.Contains("failed at Step 3/4 : RUN echo \"fetching numpy\"", e.Message);
        Assert.Contains("returned a non-zero code: 1", e.Message);
        Assert.Contains("a download failed: the build could not reach the network", e.Message);
        // The step's stdout and stderr reach the build's output as two streams: their order between them is not kept.
        Assert.Equal(["Temporary failure in name resolution", "fetching numpy"], e.Output.Order(StringComparer.Ordinal));
        Assert.DoesNotContain(e.Output, l => l.Contains("--->", StringComparison.Ordinal) || l.Contains('\u001b'));
    }

    [Fact]
    public async Task MissingDockerfile_FailsBeforeBuilding()
    {
        var dir = Path.Combine(_work.FullName, "no-dockerfile");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "env.py"), "class Actor: pass\n");
        var e = await Assert.ThrowsAsync<DetectionException>(() => fixture.BuildAsync(dir, fixture.NewTag("no-dockerfile")));
        Assert.Contains("Dockerfile is missing", e.Message);
    }

    [Fact]
    public async Task BuildArgs_ReachTheEnvironmentsDockerfile()
    {
        var dir = WriteEnvironment("args", "import os\nclass Actor:\n    def flavour(self):\n        return open('/app/flavour').read().strip()\n",
            "FROM python:3.11-slim\nARG FLAVOUR=plain\nRUN mkdir -p /app && echo $FLAVOUR > /app/flavour\nCOPY env.py /app/env.py\n");
        var tag = fixture.NewTag("args");
        await fixture.BuildAsync(dir, tag, new BuildOptions { Tag = tag, BuildArgs = new Dictionary<string, string> { ["FLAVOUR"] = "mint" }, NoCache = true });
        await using var container = await fixture.RunReadyAsync(tag);
        Assert.Equal("mint", (await InjectorDockerFixture.CallAsync(container, "flavour", "{}")).GetString());
    }

    [Fact]
    public async Task Push_ToLocalRegistry_ThenPullAndRun()
    {
        var registry = Environment.GetEnvironmentVariable("AFFINETES_TEST_REGISTRY") ?? "127.0.0.1:5000";
        var dir = WriteEnvironment("pushed", "class Actor:\n    def where(self):\n        return 'from the registry'\n");
        var tag = fixture.NewTag("pushed");
        var built = await fixture.BuildAsync(dir, tag, new BuildOptions { Tag = tag, Push = true, Registry = registry });
        Assert.Equal($"{registry}/{tag}", built.PushedAs);

        await fixture.Docker.Images.DeleteImageAsync(built.PushedAs!, new ImageDeleteParameters { Force = true, NoPrune = true });
        await fixture.Docker.Images.DeleteImageAsync(tag, new ImageDeleteParameters { Force = true, NoPrune = true });
        Assert.False(await fixture.ImageExistsAsync(built.PushedAs!));

        var (repository, version) = ImageBuilder.SplitTag(built.PushedAs!);
        await fixture.Docker.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = version }, null, new Progress<JSONMessage>())
            .Within(TimeSpan.FromMinutes(2), "pulling from the local registry");
        try
        {
            await using var container = await fixture.RunReadyAsync(built.PushedAs!);
            Assert.Equal("from the registry", (await InjectorDockerFixture.CallAsync(container, "where", "{}")).GetString());
        }
        finally
        {
            await fixture.Docker.Images.DeleteImageAsync(built.PushedAs!, new ImageDeleteParameters { Force = true, NoPrune = true });
        }
    }
}
