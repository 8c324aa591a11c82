using System.CommandLine;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Affinetes.Testing;
using Docker.DotNet.Models;

namespace Affinetes.Afs.Tests;

/// <summary>The command line as a user runs it, against the real engine.</summary>
[Trait(Tiers.Name, Tiers.Docker)]
public sealed class AfsDockerTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-afs-");

    public void Dispose() => _work.Delete(recursive: true);

    private static Task<(int Exit, string Output, string Error)> RunAsync(params string[] args) => AfsEnvironmentFixture.AfsAsync(args);

    [Fact]
    public async Task InitThenBuild_StarterAnswersAsGenerated()
    {
        var dir = Path.Combine(_work.FullName, "my-eval");
        var (initExit, initOutput, _) = await RunAsync("init", dir);
        Assert.Equal(0, initExit);
        Assert.Contains("created python environment", initOutput);
        Assert.True(File.Exists(Path.Combine(dir, "env.py")));

        var tag = $"affinetes-test/starter:{Guid.NewGuid():N}";
        using var docker = DockerEngine.CreateClient();
        try
        {
            var (exit, output, error) = await RunAsync("build", dir, "--tag", tag);
            Assert.True(exit == 0, error);
            Assert.Matches(@"^built affinetes-test/starter:\w+  sha256:[0-9a-f]{12}  [0-9.]+ MiB  function_based", output.Trim());
            Assert.Contains("[check] affinetes-host: ok", error);

            await using var container = await DockerEngine.RunAsync(docker, tag, null, 8000);
            await DockerEngine.WaitReadyAsync(container);
            using var http = new HttpClient();
            using var response = await http.PostAsync($"http://127.0.0.1:{container.HostPort}/generate",
                new StringContent("""{"task_id":3}""", Encoding.UTF8, "application/json"));
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("success", body.GetProperty("status").GetString());
            var prompt = body.GetProperty("result").GetProperty("prompt").GetString()!;
            var numbers = System.Text.RegularExpressions.Regex.Matches(prompt, @"\d+").Select(m => int.Parse(m.Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            // Task 3 is a "finds more" problem: (3 + seed 0) % 3 == 0.
            Assert.StartsWith($"Mia has {numbers[0]} coins. She finds {numbers[1]} more coins.", prompt);
            Assert.Equal(numbers[0] + numbers[1], body.GetProperty("result").GetProperty("expected").GetInt32());

            // Its first evaluation against the offline baseline scores neither 0 nor 1: two kinds of three are answered.
            var (evalExit, evalOutput, evalError) = await RunAsync("eval", tag, "--tasks", "1-6", "--store", Path.Combine(_work.FullName, "starter.db"), "--json");
            Assert.True(evalExit == 0, evalError);
            Assert.Equal(4 / 6.0, JsonDocument.Parse(evalOutput).RootElement.GetProperty("summary").GetProperty("mean_score").GetDouble(), 9);
        }
        finally
        {
            await DockerEngine.RemoveImageQuietlyAsync(docker, tag);
        }
    }

    [Fact]
    public async Task Build_JsonOutput_IsMachineReadable()
    {
        var dir = Path.Combine(_work.FullName, "json-env");
        Assert.Equal(0, (await RunAsync("init", dir)).Exit);
        var tag = $"affinetes-test/json:{Guid.NewGuid():N}";
        using var docker = DockerEngine.CreateClient();
        try
        {
            var (exit, output, error) = await RunAsync("build", dir, "--tag", tag, "--json");
            Assert.True(exit == 0, error);
            using var doc = JsonDocument.Parse(output);
            Assert.Equal(tag, doc.RootElement.GetProperty("tag").GetString());
            Assert.Equal("function_based", doc.RootElement.GetProperty("kind").GetString());
            Assert.StartsWith("sha256:", doc.RootElement.GetProperty("source_digest").GetString());
        }
        finally
        {
            await DockerEngine.RemoveImageQuietlyAsync(docker, tag);
        }
    }

    [Fact]
    public async Task Build_BrokenSource_PrintsOneLineAndFails()
    {
        var (exit, _, error) = await RunAsync("build", Path.Combine(_work.FullName, "does-not-exist"), "--tag", "x:y");
        Assert.Equal(1, exit);
        Assert.StartsWith("afs build: ", error);
        Assert.Contains("neither an existing directory nor a git URL", error);
    }

    [Fact]
    public async Task Init_IntoNonEmptyDirectory_Refuses()
    {
        var dir = Path.Combine(_work.FullName, "taken");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "keep.txt"), "mine");
        var (exit, _, error) = await RunAsync("init", dir);
        Assert.Equal(1, exit);
        Assert.Contains("not empty", error);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(dir, "keep.txt")));
    }

    private string WriteEnvironment(string name, string dockerfile)
    {
        var dir = Path.Combine(_work.FullName, name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "env.py"), "class Actor:\n    def ping(self):\n        return 'pong'\n");
        File.WriteAllText(Path.Combine(dir, "Dockerfile"), dockerfile);
        return dir;
    }

    [Fact]
    public async Task Build_FailingStep_ShowsItsOutputOnce_Plainly_AndEndsWithTheReason()
    {
        var dir = WriteEnvironment("fails", "FROM python:3.11-slim\nRUN echo \"fetching numpy\" && echo \"Temporary failure in $(echo name) resolution\" >&2 && exit 1\nCOPY env.py /app/env.py\n");
        var (exit, output, error) = await RunAsync("build", dir, "--tag", $"affinetes-test/fails:{Guid.NewGuid():N}");
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.DoesNotContain('\u001b', error);
        Assert.Single(error.Split('\n'), l => l.Contains("Temporary failure in name resolution", StringComparison.Ordinal));
        Assert.DoesNotContain("Removing intermediate container", error);
        var last = error.TrimEnd('\n').Split('\n')[^1];
        Assert.StartsWith("afs build: building the environment's Dockerfile failed at Step 2/3 : RUN echo", last);
        Assert.Contains("a download failed", last);
    }

    [Fact]
    public async Task Build_Quiet_ShowsTheFailingStepsOutputOnce()
    {
        var dir = WriteEnvironment("fails-quietly", "FROM python:3.11-slim\nRUN echo \"compiling\" && exit 4\nCOPY env.py /app/env.py\n");
        var (exit, _, error) = await RunAsync("build", dir, "--tag", $"affinetes-test/fails:{Guid.NewGuid():N}", "--quiet");
        Assert.Equal(1, exit);
        Assert.Equal(["[environment] compiling", "afs build: building the environment's Dockerfile failed at Step 2/3 : RUN echo \"compiling\" && exit 4: The command '/bin/sh -c echo \"compiling\" && exit 4' returned a non-zero code: 4"],
            error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Build_Interrupted_ExitsLikeRun_AndKeepsNothing()
    {
        var dir = WriteEnvironment("slow-build", "FROM python:3.11-slim\nRUN echo started && sleep 60\nCOPY env.py /app/env.py\n");
        var tag = $"affinetes-test/interrupted:{Guid.NewGuid():N}";
        using var afs = AfsEnvironmentFixture.StartAfsProcess("build", dir, "--tag", tag);
        var error = new System.Text.StringBuilder();
        var reading = Task.Run(async () =>
        {
            while (await afs.StandardError.ReadLineAsync() is { } line)
            {
                lock (error)
                {
                    error.AppendLine(line);
                }
            }
        });
        string Seen()
        {
            lock (error)
            {
                return error.ToString();
            }
        }
        try
        {
            await Bounded.Until(() => Task.FromResult(Seen().Contains("[environment] started", StringComparison.Ordinal) || afs.HasExited),
                TimeSpan.FromSeconds(60), "afs build reaching its slow step");
            using (var interrupt = System.Diagnostics.Process.Start("kill", ["-INT", afs.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await interrupt.WaitForExitAsync().Within(what: "kill -INT");
            }
            await afs.WaitForExitAsync().Within(TimeSpan.FromSeconds(30), "afs build ending on Ctrl+C");
            await reading.Within();
        }
        finally
        {
            if (!afs.HasExited)
            {
                afs.Kill(entireProcessTree: true);
            }
        }
        Assert.Equal(130, afs.ExitCode);
        Assert.EndsWith("afs build: cancelled; nothing of the unfinished build is kept", Seen().TrimEnd());
        using var docker = DockerEngine.CreateClient();
        await Assert.ThrowsAsync<Docker.DotNet.DockerImageNotFoundException>(() => docker.Images.InspectImageAsync(tag));
    }
}
