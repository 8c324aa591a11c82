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

    public async Task InitializeAsync()
    {
        _server = await BasilicaContractServer.StartAsync().Within(what: "starting the contract server");
        Environment.SetEnvironmentVariable("BASILICA_API_TOKEN", _server.Token);
    }

    public async Task DisposeAsync()
    {
        try
        {
            await _server.AssertAllDeletedAsync().Within(TimeSpan.FromSeconds(90), "checking that every deployment was deleted");
        }
        finally
        {
            Environment.SetEnvironmentVariable("BASILICA_API_TOKEN", null);
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
}
