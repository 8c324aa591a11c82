using System.Text.Json;
using System.Text.RegularExpressions;
using Affinetes.Testing;
using Affinetes.Testing.Basilica;

namespace Affinetes.Afs.Tests;

/// <summary>
/// <c>afs eval</c> and <c>afs score</c> with <c>--mode basilica</c> as a validator runs them, against the local
/// Basilica contract server (real containers behind it on the engine's bridge). The key reaches afs through
/// <c>$BASILICA_API_TOKEN</c>; after every test the server's ledger shows every deployment deleted.
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(AfsEvalCollection.Name)]
public sealed class AfsBasilicaEvalTests(AfsEvalFixture fixture) : IAsyncLifetime
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-afs-basilica-");
    private BasilicaContractServer _server = null!;
    private IAsyncDisposable _token = null!;

    private string Store => Path.Combine(_work.FullName, "results.db");

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
            Assert.Empty(_server.LiveDeployments);
        }
        finally
        {
            await _token.DisposeAsync();
            await _server.DisposeAsync();
            _work.Delete(recursive: true);
        }
    }

    private Task<(int Exit, string Output, string Error)> AfsAsync(params string[] args) =>
        AfsEnvironmentFixture.AfsAsync([.. args, "--api-url", _server.Url, "--api-rate", "50"]);

    private async Task<string> PinnedAsync(string image) =>
        $"{image.Split(':')[0]}@{(await fixture.Docker.Images.InspectImageAsync(image).Within(what: "inspecting the image")).ID}";

    [Fact]
    public async Task Eval_OnBasilica_TheModelThroughTheGatewaysPublicUrl_UsageStored_KeyAbsent_ThePinnedRerunIsCached()
    {
        var pinned = await PinnedAsync(fixture.Arith);
        // The pods run on the engine's bridge and reach this machine's gateway as host.docker.internal, as Basilica's reach a public URL.
        var bridge = await DockerEngine.BridgeGatewayAsync(fixture.Docker).Within();
        var port = DockerEngine.FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var baseline = DockerEngine.FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        _server.ContainerExtraHosts.Add("host.docker.internal:host-gateway");
        string[] eval = ["eval", pinned, "--mode", "basilica", "--tasks", "1-12", "--replicas", "2", "--concurrency", "6", "--store", Store,
            "--baseline-port", baseline, "--llm-public-url", $"http://host.docker.internal:{port}/v1", "--llm-listen", $"{bridge}:{port}"];
        var (exit, output, error) = await AfsAsync(eval);
        Assert.True(exit == 0, error);
        Assert.Contains($"creating a Basilica deployment of {pinned} with 2 replicas (on Basilica at {_server.Url.TrimEnd('/')}; " +
            $"model calls through the LLM gateway at http://host.docker.internal:{port}/v1 to http://127.0.0.1:{baseline}/v1", error, StringComparison.Ordinal);
        Assert.Contains("0 from the cache, 12 to run", error, StringComparison.Ordinal);
        Assert.Contains("LLM through the gateway (stored with the results): 12 requests from 12 tasks", output, StringComparison.Ordinal);
        Assert.Equal(1, _server.Ledger.Count(e => e.Action == "create"));
        Assert.Equal(1, _server.Ledger.Count(e => e.Action == "delete"));
        var env = Assert.Single(_server.DeploymentEnv.Values);
        Assert.Equal($"http://host.docker.internal:{port}/v1", env["OPENAI_BASE_URL"]);
        Assert.StartsWith("afs-", (string?)_server.CreateBodies.Single()["instanceName"], StringComparison.Ordinal);

        // The pinned reference's digest is the cache key: the rerun creates nothing.
        var (exit2, output2, error2) = await AfsAsync([.. eval, "--json"]);
        Assert.True(exit2 == 0, error2);
        Assert.Contains($"every task of {pinned} is in the cache; no deployment is started", error2, StringComparison.Ordinal);
        Assert.Equal(12, JsonDocument.Parse(output2).RootElement.GetProperty("summary").GetProperty("from_cache").GetInt32());
        Assert.Equal(1, _server.Ledger.Count(e => e.Action == "create"));

        // By tag there is no digest to trust: the run says nothing is cached.
        var (exit3, _, error3) = await AfsAsync("eval", fixture.Good, "--mode", "basilica", "--tasks", "1-3", "--store", Store);
        Assert.True(exit3 == 0, error3);
        Assert.Contains($"{fixture.Good} is not pinned by digest (NAME@sha256:...)", error3, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PassLlmKey_PutsTheKeyIntoTheDeployment_WithAWarningOnEveryRun()
    {
        Environment.SetEnvironmentVariable("AFFINETES_TEST_CHUTES_KEY", "sk-handed-over");
        try
        {
            for (var run = 0; run < 2; run++)
            {
                var (exit, _, error) = await AfsAsync("eval", fixture.Good, "--mode", "basilica", "--tasks", "1", "--store", Store,
                    "--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "AFFINETES_TEST_CHUTES_KEY", "--pass-llm-key", "--no-cache");
                Assert.True(exit == 0, error);
                Assert.Contains("warning: the model's API key ($AFFINETES_TEST_CHUTES_KEY) is passed into the Basilica deployment, where the miner's code can read and spend it", error, StringComparison.Ordinal);
            }
            Assert.All(_server.DeploymentEnv.Values, env => Assert.Equal("sk-handed-over", env["AFFINETES_TEST_CHUTES_KEY"]));
        }
        finally
        {
            Environment.SetEnvironmentVariable("AFFINETES_TEST_CHUTES_KEY", null);
        }
    }

    [Fact]
    public async Task Score_KilledWithSigkillMidRun_TheNextRunDeletesWhatItLeft_AndScoresThreeMinersOneBroken()
    {
        var miners = Path.Combine(_work.FullName, "miners.json");
        await File.WriteAllTextAsync(miners, JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["1"] = await PinnedAsync(fixture.Good),
            ["2"] = "affinetes-test/never-pushed:none",
            ["3"] = await PinnedAsync(fixture.Raising),
        }));
        string[] score = ["score", miners, "--mode", "basilica", "--tasks", "1-8", "--store", Store, "--max-deployments", "3", "--ready-timeout", "90",
            "--out", Path.Combine(_work.FullName, "scores.json"), "--api-url", _server.Url, "--api-rate", "50"];
        _server.PhaseDelay = TimeSpan.FromSeconds(2); // slow enough to be killed while its deployments start
        using (var afs = AfsEnvironmentFixture.StartAfsProcess([.. score, "--kw", "delay=0.5"]))
        {
            try
            {
                await Bounded.Until(() => Task.FromResult(_server.LiveDeployments.Count >= 2), TimeSpan.FromMinutes(2), "afs creating its deployments");
            }
            finally
            {
                afs.Kill(); // SIGKILL: nothing of afs runs after this
                await afs.WaitForExitAsync().Within(what: "afs exiting");
            }
        }
        var left = _server.LiveDeployments.ToList();
        Assert.NotEmpty(left);
        _server.PhaseDelay = TimeSpan.FromMilliseconds(100);

        var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync([.. score, "--kw", "delay=0.5"]);
        Assert.True(exit == 0, error);
        // What the killed afs left is deleted before anything else is created.
        Assert.Contains("left by validators of this user that are gone", error, StringComparison.Ordinal);
        Assert.All(left, name => Assert.Contains(_server.Ledger, e => e.Action == "delete" && e.InstanceName == name));
        Assert.Matches(new Regex(@"^1\s+\S+\s+0\.375\s+1\.000\s", RegexOptions.Multiline), output);
        Assert.Matches(new Regex(@"^2\s+affinetes-test/never-pushed:none\s+0\.000\s+0\.000\s.*ImagePullBackOff.*Failed to pull image", RegexOptions.Multiline), output);
        Assert.Matches(new Regex(@"^3\s+\S+\s+0\.000\s+0\.000\s.*every task failed", RegexOptions.Multiline), output);
        using var scores = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_work.FullName, "scores.json")));
        Assert.Equal([1], scores.RootElement.GetProperty("chain_weights").GetProperty("uids").EnumerateArray().Select(u => u.GetInt32()));
        Assert.Empty(_server.LiveDeployments);
    }
}
