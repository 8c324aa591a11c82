using System.Text.RegularExpressions;
using Affinetes.Testing;
using Affinetes.Testing.Basilica;

namespace Affinetes.Afs.Tests;

/// <summary>
/// <c>afs run/call --mode basilica</c> and <c>afs basilica ls/rm</c> against the local Basilica contract server (real
/// containers behind it). The key reaches afs through <c>$BASILICA_API_TOKEN</c>, as users give it.
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(AfsEnvironmentCollection.Name)]
public sealed class AfsBasilicaTests(AfsEnvironmentFixture fixture) : IAsyncLifetime
{
    private BasilicaContractServer _server = null!;
    private IAsyncDisposable _token = null!;

    public async Task InitializeAsync()
    {
        _server = await BasilicaContractServer.StartAsync().Within(what: "starting the contract server");
        _token = await BasilicaTokenScope.EnterAsync(_server.Token);
    }

    public async Task DisposeAsync()
    {
        try
        {
            await _server.AssertAllDeletedAsync().Within(TimeSpan.FromSeconds(90), "checking that every deployment was deleted");
        }
        finally
        {
            await _token.DisposeAsync();
            await _server.DisposeAsync();
        }
    }

    private Task<(int Exit, string Output, string Error)> AfsAsync(params string[] args) =>
        AfsEnvironmentFixture.AfsAsync([.. args, "--api-url", _server.Url]);

    [Fact]
    public async Task RunCallLsRm_OnBasilica_AsAUserChainsThem()
    {
        var (runExit, runOutput, runError) = await AfsAsync("run", fixture.Image, "--mode", "basilica", "--replicas", "2", "--ttl", "900");
        Assert.True(runExit == 0, runError);
        var name = Regex.Match(runOutput, @"^environment (afs-[a-z0-9-]+) is ready", RegexOptions.Multiline).Groups[1].Value;
        Assert.NotEmpty(name);
        Assert.Contains($"afs call {name} generate --arg task_id=... --mode basilica", runOutput, StringComparison.Ordinal);
        Assert.Equal(900, (long?)_server.CreateBodies.Single()["ttlSeconds"]);

        var (callExit, callOutput, callError) = await AfsAsync("call", name, "generate", "--arg", "task_id=3", "--mode", "basilica", "--compact");
        Assert.True(callExit == 0, callError);
        Assert.Contains("\"task_id\":3", callOutput, StringComparison.Ordinal);

        var (lsExit, lsOutput, _) = await AfsAsync("basilica", "ls");
        Assert.Equal(0, lsExit);
        Assert.Matches(new Regex($@"^-\s+{name}\s+Active\s+ready\s+2/2\s+\d+s\s+1[45]m\s+{Regex.Escape(fixture.Image)}\s+http://127\.0\.0\.1:\d+/$", RegexOptions.Multiline), lsOutput);

        var (rmExit, rmOutput, _) = await AfsAsync("basilica", "rm", name);
        Assert.Equal(0, rmExit);
        Assert.Contains($"deleted {name}", rmOutput, StringComparison.Ordinal);
        Assert.Contains("no deployments of afs", (await AfsAsync("basilica", "ls")).Output, StringComparison.Ordinal);
        Assert.DoesNotContain(_server.Token, runOutput + runError + callOutput + lsOutput + rmOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidatorKilledMidProvisioning_RmAllMine_FindsAndDeletesWhatItLeft_EvenRenamed()
    {
        _server.RenameInstances = true; // the name prefix is lost: only the note of the killed process marks it
        _server.PhaseDelay = TimeSpan.FromSeconds(60);
        using var afs = AfsEnvironmentFixture.StartAfsProcess("run", fixture.Image, "--mode", "basilica", "--api-url", _server.Url);
        try
        {
            await Bounded.Until(() => Task.FromResult(_server.Ledger.Count > 0), TimeSpan.FromSeconds(60), "afs creating its deployment");
            await Bounded.Until(() => Task.FromResult(_server.Requests.Any(r => r.StartsWith("GET /deployments/", StringComparison.Ordinal))),
                TimeSpan.FromSeconds(30), "afs polling its deployment");
        }
        finally
        {
            afs.Kill(); // SIGKILL: nothing of afs runs after this
            await afs.WaitForExitAsync().Within(what: "afs exiting");
        }
        var left = Assert.Single(_server.LiveDeployments);
        Assert.True(Guid.TryParse(left, out _));

        var (lsExit, lsOutput, _) = await AfsAsync("basilica", "ls");
        Assert.Equal(0, lsExit);
        Assert.Matches(new Regex($@"^-\s+{left}\s+Pending\s+pending\s+0/1\s+", RegexOptions.Multiline), lsOutput);

        var (rmExit, rmOutput, rmError) = await AfsAsync("basilica", "rm", "--all-mine");
        Assert.True(rmExit == 0, rmError);
        Assert.Contains($"deleted {left}", rmOutput, StringComparison.Ordinal);
        Assert.Empty(_server.LiveDeployments);
    }

    [Fact]
    public async Task WrongKey_AndUnreachableApi_SayWhatToFix_WithoutTheKey()
    {
        Environment.SetEnvironmentVariable("BASILICA_API_TOKEN", "basilica_wrong_key_0815");
        var (exit, output, error) = await AfsAsync("basilica", "ls");
        Assert.Equal(1, exit);
        Assert.Contains("401", error, StringComparison.Ordinal);
        Assert.Contains("BASILICA_API_TOKEN", error, StringComparison.Ordinal);
        Assert.DoesNotContain("basilica_wrong_key_0815", output + error, StringComparison.Ordinal);

        var port = DockerEngine.FreeLoopbackPort();
        var (downExit, _, downError) = await AfsEnvironmentFixture.AfsAsync("basilica", "rm", "--all-mine", "--api-url", $"http://127.0.0.1:{port}");
        Assert.Equal(5, downExit);
        Assert.Contains($"cannot reach the Basilica API at http://127.0.0.1:{port}/", downError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NamesTheUserGave_CallMethodsLogsStop_FindTheDeploymentWhateverBasilicaNamedIt()
    {
        _server.RenameInstances = true;
        var (runExit, runOutput, runError) = await AfsAsync("run", fixture.Image, "--mode", "basilica", "--name", "bb", "--replicas", "2");
        Assert.True(runExit == 0, runError);
        var instance = Assert.Single(_server.LiveDeployments);
        Assert.True(Guid.TryParse(instance, out _));
        Assert.Contains($"environment {instance} is ready", runOutput, StringComparison.Ordinal);

        var (callExit, callOutput, callError) = await AfsAsync("call", "bb", "generate", "--arg", "task_id=5", "--mode", "basilica", "--compact");
        Assert.True(callExit == 0, callError);
        Assert.Contains("\"task_id\":5", callOutput, StringComparison.Ordinal);

        var (methodsExit, methodsOutput, methodsError) = await AfsAsync("methods", "bb", "--mode", "basilica");
        Assert.True(methodsExit == 0, methodsError);
        Assert.Contains("generate(", methodsOutput, StringComparison.Ordinal);

        var (logsExit, logsOutput, logsError) = await AfsAsync("logs", "bb", "--mode", "basilica", "--tail", "50");
        Assert.True(logsExit == 0, logsError);
        Assert.False(string.IsNullOrWhiteSpace(logsOutput));

        var (lsExit, lsOutput, _) = await AfsAsync("basilica", "ls");
        Assert.Equal(0, lsExit);
        Assert.Matches(new Regex($@"^bb\s+{instance}\s+Active\s+ready\s+2/2\s", RegexOptions.Multiline), lsOutput);
        Assert.Equal(0, _server.Ledger.Count(e => e.Action == "delete")); // none of these deleted it

        var (stopExit, stopOutput, stopError) = await AfsAsync("stop", "bb", "--mode", "basilica");
        Assert.True(stopExit == 0, stopError);
        Assert.Contains($"deleted basilica deployment bb ({instance})", stopOutput, StringComparison.Ordinal);
        Assert.Empty(_server.LiveDeployments);

        var (goneExit, _, goneError) = await AfsAsync("call", "bb", "generate", "--arg", "task_id=5", "--mode", "basilica");
        Assert.Equal(1, goneExit);
        Assert.Contains("no deployment is named 'bb'", goneError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadInput_OneClearLineEach_TheDocumentedExitCode_NothingCreated()
    {
        var miners = Path.Combine(Path.GetTempPath(), $"affinetes-miners-{Guid.NewGuid():N}.json");
        var work = Directory.CreateTempSubdirectory("affinetes-afs-bad-input-");
        var store = Path.Combine(work.FullName, "results.db");
        await File.WriteAllTextAsync(miners, $"{{\"1\": \"{fixture.Image}\"}}");
        try
        {
            async Task ExpectAsync(int exit, string said, params string[] args)
            {
                var (code, output, error) = await AfsEnvironmentFixture.AfsAsync([.. args, "--store", store]);
                Assert.True(code == exit, $"afs {string.Join(' ', args)}: exit {code}, {error}");
                // The failure is one line, the last (an opening note may come before it), and no stack trace.
                var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.Contains(said, lines[^1], StringComparison.Ordinal);
                Assert.Single(lines, l => l.Contains(said, StringComparison.Ordinal));
                Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
                Assert.DoesNotContain(_server.Token, output + error, StringComparison.Ordinal);
            }
            var api = _server.Url;
            Environment.SetEnvironmentVariable("BASILICA_API_TOKEN", null);
            await ExpectAsync(1, "needs your Basilica API key in $BASILICA_API_TOKEN", "eval", fixture.Image, "--mode", "basilica", "--tasks", "1", "--api-url", api);
            await ExpectAsync(1, "needs your Basilica API key in $BASILICA_API_TOKEN", "score", miners, "--mode", "basilica", "--tasks", "1", "--api-url", api);

            Environment.SetEnvironmentVariable("BASILICA_API_TOKEN", "basilica_wrong_key_4711");
            await ExpectAsync(1, "401 HTTP_401: the API key was refused; set BASILICA_API_TOKEN", "score", miners, "--mode", "basilica", "--tasks", "1", "--api-url", api);
            await ExpectAsync(1, "401 HTTP_401: the API key was refused; set BASILICA_API_TOKEN", "eval", fixture.Image, "--mode", "basilica", "--tasks", "1", "--api-url", api);

            Environment.SetEnvironmentVariable("BASILICA_API_TOKEN", _server.Token);
            var down = $"http://127.0.0.1:{DockerEngine.FreeLoopbackPort()}";
            await ExpectAsync(5, $"cannot reach the Basilica API at {down}/", "score", miners, "--mode", "basilica", "--tasks", "1", "--api-url", down);
            await ExpectAsync(1, "--max-deployments 0: give 1 to 64", "score", miners, "--mode", "basilica", "--tasks", "1", "--max-deployments", "0", "--api-url", api);
            await ExpectAsync(1, "--max-deployments applies to --mode basilica", "score", miners, "--tasks", "1", "--max-deployments", "2");
            await ExpectAsync(1, "--llm-public-url 'ftp://gw.example.org/v1' is not an http(s) URL", "eval", fixture.Image, "--mode", "basilica", "--tasks", "1",
                "--llm-public-url", "ftp://gw.example.org/v1", "--api-url", api);
            await ExpectAsync(1, "--llm-public-url 'gateway' is not an http(s) URL", "score", miners, "--mode", "basilica", "--tasks", "1",
                "--llm-public-url", "gateway", "--api-url", api);
            await ExpectAsync(1, "--pids-limit confines Docker containers", "eval", fixture.Image, "--mode", "basilica", "--tasks", "1", "--pids-limit", "64", "--api-url", api);
            await ExpectAsync(1, "to reach the model at https://llm.example.org/v1 give --llm-public-url URL", "eval", fixture.Image, "--mode", "basilica", "--tasks", "1",
                "--base-url", "https://llm.example.org/v1", "--api-url", api);
            Assert.Empty(_server.Ledger);
            Assert.DoesNotContain(_server.Requests, r => r.StartsWith("POST ", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(miners);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            work.Delete(recursive: true);
        }
    }
}
