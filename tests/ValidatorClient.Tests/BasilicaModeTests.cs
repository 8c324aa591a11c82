using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.Testing;
using Affinetes.Testing.Basilica;
using Affinetes.ValidatorClient.Environments;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>
/// Basilica mode against the local contract server (real HTTP, each deployment real containers published on
/// 127.0.0.1 behind an ingress). Every test ends by asserting that every deployment the server saw created was
/// deleted by the client and that no container behind them is left.
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(DockerModeCollection.Name)]
public sealed class BasilicaModeTests(DockerModeFixture fixture) : IAsyncLifetime
{
    private readonly DirectoryInfo _state = Directory.CreateTempSubdirectory("affinetes-basilica-state-");
    private readonly List<string> _logs = [];
    private BasilicaContractServer _server = null!;

    public async Task InitializeAsync() => _server = await BasilicaContractServer.StartAsync().Within(what: "starting the contract server");

    public async Task DisposeAsync()
    {
        try
        {
            await _server.AssertAllDeletedAsync().Within(TimeSpan.FromSeconds(90), "checking that every deployment was deleted");
            lock (_logs)
            {
                Assert.DoesNotContain(_logs, l => l.Contains(_server.Token, StringComparison.Ordinal));
            }
        }
        finally
        {
            await _server.DisposeAsync();
            _state.Delete(recursive: true);
        }
    }

    private EnvironmentOptions Options(string image, int replicas = 1, IProgress<BasilicaStatus>? progress = null, string? token = null) => new()
    {
        Mode = EnvironmentMode.Basilica,
        Image = image,
        Replicas = replicas,
        ReadyTimeout = TimeSpan.FromSeconds(60),
        Basilica = new BasilicaOptions
        {
            ApiUrl = _server.Url,
            Token = token ?? _server.Token,
            StatusPollInterval = TimeSpan.FromMilliseconds(100),
            RetryDelay = TimeSpan.FromMilliseconds(50),
            StateDirectory = _state.FullName,
            Progress = progress,
            ApiRequestsPerSecond = 50, // these tests are not about the rate: polls at the pace of their phases
            ApiBurst = 50,
        },
    };

    /// <summary>Loads with the environment's log lines going to the test's list.</summary>
    private Task<IEnvironment> LoadAsync(EnvironmentOptions options, CancellationToken cancellationToken = default) =>
        AffinetesClient.LoadEnvAsync(options, LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new ListLoggerProvider(_logs))), cancellationToken).Within(TimeSpan.FromMinutes(2), $"loading {options.Image} on basilica");

    private static Dictionary<string, object?> Kw(params (string, object?)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    private int Count(string action) => _server.Ledger.Count(e => e.Action == action);

    [Fact]
    public async Task TwoReplicas_OneDeploymentServesEveryCall_OnBothPods_AndIsDeletedOnDispose()
    {
        var options = Options(fixture.ClientImage, replicas: 2) with
        {
            EnvVars = new Dictionary<string, string> { ["GREETING"] = "hello-from-env" },
            CpuLimit = "0.5",
            MemLimit = "512m",
            AuthToken = "call-token-123",
        };
        await using (var env = await LoadAsync(options))
        {
            Assert.Equal(7, (await env.CallAsync("echo", kwargs: Kw(("x", 7))).Within()).GetProperty("x").GetInt32());
            var hosts = new HashSet<string>();
            for (var i = 0; i < 8; i++)
            {
                hosts.Add((await env.CallAsync("environment", kwargs: Kw(("name", "HOSTNAME"))).Within()).GetString()!);
            }
            Assert.Equal(2, hosts.Count); // two pods, both reached through the one URL
            Assert.Equal("hello-from-env", (await env.CallAsync("environment", kwargs: Kw(("name", "GREETING"))).Within()).GetString());
            Assert.Equal(JsonValueKind.Null, (await env.CallAsync("environment", kwargs: Kw(("name", "AFFINETES_AUTH_TOKEN"))).Within()).ValueKind);
            Assert.All(env.Replicas, r => Assert.Equal("127.0.0.1", r.BaseUrl.Host));
            Assert.Equal(1, Count("create"));
            Assert.Single(Directory.GetFiles(_state.FullName, "*.json")); // noted as ours while it lives
        }
        Assert.Equal(1, Count("delete"));
        Assert.Empty(Directory.GetFiles(_state.FullName, "*.json"));
        var body = Assert.Single(_server.CreateBodies);
        Assert.Equal("500m", (string?)body["resources"]!["cpu"]);
        Assert.Equal("512Mi", (string?)body["resources"]!["memory"]);
        Assert.Equal(2, (int?)body["replicas"]);
        Assert.StartsWith("afs-", (string?)body["instanceName"], StringComparison.Ordinal);
        // Ready timeout 60 + the assumed 360 s call deadline + the 600 s buffer.
        Assert.Equal(1020, (long?)body["ttlSeconds"]);
        Assert.Equal(HostEnvironment.HashAuthToken("call-token-123"), (string?)body["env"]![HostEnvironment.AuthTokenSha256]);
        Assert.DoesNotContain("call-token-123", body.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OneReplicaLate_WithMinReadyReplicasOne_TheDeploymentServesOnTheReadyOne_AndTheOtherJoinsWhenReady()
    {
        var release = new TaskCompletionSource();
        _server.Script(fixture.ClientImage, new ImageBehaviour.LatePods(release.Task));
        var statuses = new List<BasilicaStatus>();
        var progress = new SynchronousProgress(s =>
        {
            lock (statuses)
            {
                statuses.Add(s);
            }
        });
        await using (var env = await LoadAsync(Options(fixture.ClientImage, replicas: 2, progress: progress) with { MinReadyReplicas = 1 }))
        {
            // Loaded while Basilica still says 1 of 2: the pod that answers through the deployment's URL serves.
            lock (statuses)
            {
                Assert.Equal((1, 2), (statuses[^1].ReadyReplicas, statuses[^1].DesiredReplicas));
            }
            var hosts = new HashSet<string>();
            for (var i = 0; i < 6; i++)
            {
                hosts.Add((await env.CallAsync("environment", kwargs: Kw(("name", "HOSTNAME"))).Within()).GetString()!);
            }
            Assert.Single(hosts);
            release.SetResult();
            await Bounded.Until(async () =>
            {
                hosts.Add((await env.CallAsync("environment", kwargs: Kw(("name", "HOSTNAME"))).Within()).GetString()!);
                return hosts.Count == 2;
            }, TimeSpan.FromSeconds(30), "the late pod serving too");
        }
        Assert.Equal(1, Count("delete"));
    }

    [Fact]
    public async Task ServerRenamesTheInstance_EveryLaterRequestUsesTheAnsweredName()
    {
        _server.RenameInstances = true;
        await using (var env = await LoadAsync(Options(fixture.ClientImage)))
        {
            Assert.Equal(3, (await env.CallAsync("echo", kwargs: Kw(("x", 3))).Within()).GetProperty("x").GetInt32());
        }
        var created = Assert.Single(_server.Ledger, e => e.Action == "create").InstanceName;
        Assert.True(Guid.TryParse(created, out _));
        var sent = (string)_server.CreateBodies.Single()["instanceName"]!;
        Assert.DoesNotContain(_server.Requests, r => r.Contains(sent, StringComparison.Ordinal));
        Assert.Contains($"DELETE /deployments/{created}", _server.Requests);
    }

    [Fact]
    public async Task SlowReadiness_ReportsEveryPhase_InOrder()
    {
        _server.PhaseDelay = TimeSpan.FromMilliseconds(700);
        var phases = new List<string>();
        var progress = new SynchronousProgress(s =>
        {
            lock (phases)
            {
                if (phases.LastOrDefault() != s.Phase)
                {
                    phases.Add(s.Phase!);
                }
            }
        });
        await using (var env = await LoadAsync(Options(fixture.ClientImage, progress: progress)))
        {
            Assert.Equal(1, (await env.CallAsync("echo", kwargs: Kw(("x", 1))).Within()).GetProperty("x").GetInt32());
        }
        Assert.Equal(["pending", "pulling", "starting", "health_check", "ready"], phases);
        lock (_logs)
        {
            Assert.Contains(_logs, l => l.StartsWith("5003 ", StringComparison.Ordinal) && l.Contains("health_check", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task DeploymentThatFails_BadImage_RaisesPhaseMessageAndEvents_AndIsDeleted()
    {
        var e = await Assert.ThrowsAsync<BasilicaDeploymentException>(() => LoadAsync(Options("affinetes-test/no-such-image:none")));
        Assert.Equal("failed", e.Phase);
        Assert.Contains("ImagePullBackOff", e.Message, StringComparison.Ordinal);
        Assert.Contains(e.Events, ev => ev.Contains("Failed to pull image", StringComparison.Ordinal));
        Assert.Contains("it was deleted", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, Count("delete"));
        Assert.Empty(Directory.GetFiles(_state.FullName, "*.json"));
    }

    [Fact]
    public async Task RateLimitedCreate_AndUnavailableDelete_AreRetried_ThenSucceed()
    {
        _server.Inject(new ScriptedFault("POST", "/deployments", 429, Times: 2));
        _server.Inject(new ScriptedFault("DELETE", "/deployments/", 503, Body: ""));
        await using (var env = await LoadAsync(Options(fixture.ClientImage)))
        {
            Assert.Equal(5, (await env.CallAsync("echo", kwargs: Kw(("x", 5))).Within()).GetProperty("x").GetInt32());
        }
        Assert.Equal(3, _server.Requests.Count(r => r == "POST /deployments"));
        Assert.Equal(2, _server.Requests.Count(r => r.StartsWith("DELETE ", StringComparison.Ordinal)));
        Assert.Equal(1, Count("create"));
        lock (_logs)
        {
            Assert.Equal(3, _logs.Count(l => l.StartsWith("5007 ", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public async Task WrongKey_EmptyBody401_SaysSoWithoutTheKey()
    {
        var e = await Assert.ThrowsAsync<BasilicaApiException>(() => LoadAsync(Options(fixture.ClientImage, token: "basilica_wrong_key_42")));
        Assert.Equal(401, e.StatusCode);
        Assert.Equal("HTTP_401", e.Code);
        Assert.Contains("BASILICA_API_TOKEN", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("basilica_wrong_key_42", e.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, Count("create"));
        Assert.DoesNotContain("basilica_wrong_key_42", Options("x", token: "basilica_wrong_key_42").ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancelledDuringProvisioning_TheDeploymentIsDeletedBeforeTheLoadReturns()
    {
        _server.PhaseDelay = TimeSpan.FromSeconds(2);
        using var cancel = new CancellationTokenSource();
        var progress = new SynchronousProgress(s =>
        {
            if (s.Phase == "pulling")
            {
                cancel.Cancel();
            }
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => LoadAsync(Options(fixture.ClientImage, progress: progress), cancel.Token));
        Assert.Equal(1, Count("create"));
        Assert.Equal(1, Count("delete")); // deleted before the cancellation surfaced
        Assert.Empty(_server.LiveDeployments);
    }

    [Fact]
    public async Task FreshDeploymentPerCall_EachCallGetsItsOwnPod_DeletedAfterIt()
    {
        var options = Options(fixture.ClientImage) with { Basilica = Options(fixture.ClientImage).Basilica with { FreshDeploymentPerCall = true } };
        await using (var env = await LoadAsync(options))
        {
            Assert.Equal(0, Count("create")); // nothing runs between calls
            var first = (await env.CallAsync("environment", kwargs: Kw(("name", "HOSTNAME")), timeout: TimeSpan.FromSeconds(30)).Within(TimeSpan.FromMinutes(1))).GetString();
            var second = (await env.CallAsync("environment", kwargs: Kw(("name", "HOSTNAME")), timeout: TimeSpan.FromSeconds(30)).Within(TimeSpan.FromMinutes(1))).GetString();
            Assert.NotEqual(first, second);
            Assert.Equal(2, Count("create"));
            Assert.Equal(2, Count("delete"));
        }
        // Each one-call deployment's TTL covers that call: ready timeout 60 + its 30 s deadline + 600 s.
        Assert.All(_server.CreateBodies, b => Assert.Equal(690, (long?)b["ttlSeconds"]));
    }

    [Fact]
    public async Task SameEnvironment_SameResults_InDockerAndBasilicaModes()
    {
        async Task<List<string>> GenerateAsync(EnvironmentOptions options)
        {
            await using var env = await LoadAsync(options);
            var results = new List<string>();
            for (var task = 1; task <= 5; task++)
            {
                results.Add((await env.CallAsync("generate", kwargs: Kw(("task_id", task), ("seed", 7))).Within()).GetRawText());
            }
            return results;
        }
        var docker = await GenerateAsync(new EnvironmentOptions { Image = fixture.ArithImage });
        var basilica = await GenerateAsync(Options(fixture.ArithImage));
        Assert.Equal(docker, basilica);
    }

    [Fact]
    public async Task ApiRequests_OfEveryEnvironmentWithOneKey_ShareOneBucket_PastItsBurstTheyWait()
    {
        var basilica = Options("x").Basilica with { ApiRequestsPerSecond = 0.5, ApiBurst = 2 };
        var logger = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new ListLoggerProvider(_logs))).CreateLogger("test");
        // Two clients of the same API and key (as two environments of one validator): one bucket of 2.
        using var first = new Backends.Basilica.BasilicaDeployments(basilica, logger);
        using var second = new Backends.Basilica.BasilicaDeployments(basilica, logger);
        await first.ListMineAsync().Within();
        await second.ListMineAsync().Within();
        lock (_logs)
        {
            Assert.DoesNotContain(_logs, l => l.StartsWith("5008 ", StringComparison.Ordinal));
        }
        await first.ListMineAsync().Within(TimeSpan.FromSeconds(30), "the third request, after the bucket refilled");
        lock (_logs)
        {
            Assert.Contains(_logs, l => l.StartsWith("5008 ", StringComparison.Ordinal)); // the third waited its turn
        }
        Assert.Equal(3, _server.Requests.Count(r => r == "GET /deployments"));
    }

    private sealed class SynchronousProgress(Action<BasilicaStatus> report) : IProgress<BasilicaStatus>
    {
        public void Report(BasilicaStatus value) => report(value);
    }
}

/// <summary>Basilica mode's failures that need no container: an API that does not answer, options that cannot work.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class BasilicaApiFailureTests
{
    [Fact]
    public async Task UnreachableApi_FailsWithTheTransportError_AfterBoundedRetries()
    {
        var port = DockerEngine.FreeLoopbackPort();
        var options = new EnvironmentOptions
        {
            Mode = EnvironmentMode.Basilica,
            Image = "any:1",
            Basilica = new BasilicaOptions { ApiUrl = $"http://127.0.0.1:{port}", Token = "basilica_k", RetryDelay = TimeSpan.FromMilliseconds(10), MaxRetries = 2, StateDirectory = Path.GetTempPath() },
        };
        var e = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => AffinetesClient.LoadEnvAsync(options).Within());
        Assert.Contains($"cannot reach the Basilica API at http://127.0.0.1:{port}/", e.Message, StringComparison.Ordinal);
        Assert.IsType<HttpRequestException>(e.InnerException);
    }

    [Fact]
    [Trait(Tiers.Name, Tiers.Unit)]
    public void DeploymentNames_AreUniqueDnsLabels_MarkedAsOurs()
    {
        var names = Enumerable.Range(0, 1000).Select(_ => Backends.Basilica.OwnedDeployments.NewName("registry:5000/Team/My_Env.v2:tag@sha256:abc")).ToList();
        Assert.Equal(1000, names.Distinct().Count());
        Assert.All(names, n => Assert.Matches("^afs-my-env-v2-[0-9a-f]{10}$", n));
        Assert.True(Backends.Basilica.OwnedDeployments.NewName(new string('x', 200)).Length <= 63);
    }

    [Fact]
    public void MissingKey_OrTooManyReplicas_SayHowToFix()
    {
        var missing = new EnvironmentOptions { Mode = EnvironmentMode.Basilica, Image = "x:1", Basilica = new BasilicaOptions { ApiUrl = "http://127.0.0.1:1" } };
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("BASILICA_API_TOKEN")))
        {
            Assert.Contains("BASILICA_API_TOKEN", Assert.Throws<EnvironmentOptionsException>(missing.Validate).Message, StringComparison.Ordinal);
        }
        var many = missing with { Replicas = 11, Basilica = missing.Basilica with { Token = "k" } };
        Assert.Contains("1 to 10", Assert.Throws<EnvironmentOptionsException>(many.Validate).Message, StringComparison.Ordinal);
    }
}
