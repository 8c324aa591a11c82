using System.Diagnostics;
using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>Two real host processes serving the client test environment.</summary>
public sealed class HostProcessesFixture : IAsyncLifetime
{
    public HostProcess First { get; private set; } = null!;
    public HostProcess Second { get; private set; } = null!;

    public static Dictionary<string, string> Env(params (string, string)[] more)
    {
        var env = new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", "client_env.py") };
        foreach (var (k, v) in more)
        {
            env[k] = v;
        }
        return env;
    }

    public async Task InitializeAsync()
    {
        First = HostProcess.Start(Env());
        Second = HostProcess.Start(Env());
        await Task.WhenAll(First.WaitReadyAsync(), Second.WaitReadyAsync());
    }

    public async Task DisposeAsync()
    {
        await First.DisposeAsync();
        await Second.DisposeAsync();
    }
}

public sealed record EchoResult(int X, string Text);

public sealed record ScoreResult
{
    [System.Text.Json.Serialization.JsonPropertyName("task_id")] public int TaskId { get; init; }
    public double Score { get; init; }
    public bool Success { get; init; }
}

/// <summary>A typed client interface, as a validator would declare it.</summary>
public interface IClientEnv
{
    Task<ScoreResult> ScoreAsync(int taskId, string model, TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    [ActorName("echo")]
    Task<EchoResult> EchoTextAsync(int x, string text);
}

[Trait(Tiers.Name, Tiers.Host)]
public sealed class UrlModeTests(HostProcessesFixture hosts) : IClassFixture<HostProcessesFixture>
{
    private Task<IEnvironment> LoadAsync(params HostProcess[] servers) => AffinetesClient.LoadEnvAsync(new EnvironmentOptions
    {
        Mode = EnvironmentMode.Url,
        BaseUrls = [.. servers.Select(s => $"http://127.0.0.1:{s.Port}")],
    }).Within(what: "loading the environment");

    [Fact]
    public async Task Call_ReturnsTheResult_AsJsonAndTyped()
    {
        await using var env = await LoadAsync(hosts.First);
        var result = await env.CallAsync("echo", [5], new Dictionary<string, object?> { ["text"] = "yo" }).Within();
        Assert.Equal(5, result.GetProperty("x").GetInt32());
        Assert.Equal("yo", result.GetProperty("text").GetString());
        var typed = await env.CallAsync<EchoResult>("echo", kwargs: new Dictionary<string, object?> { ["x"] = 2 }).Within();
        Assert.Equal(new EchoResult(2, "hi"), typed);
    }

    [Fact]
    public async Task DynamicSyntax_ReadsLikeThePythonOriginal()
    {
        dynamic env = await LoadAsync(hosts.First);
        try
        {
            JsonElement result = await env.score(task_id: 7, model: "deepseek", _timeout: 30);
            Assert.Equal(7, result.GetProperty("task_id").GetInt32());
            Assert.Equal("deepseek", result.GetProperty("model").GetString());
            JsonElement positional = await env.echo(3, "p");
            Assert.Equal("p", positional.GetProperty("text").GetString());
        }
        finally
        {
            await env.DisposeAsync();
        }
    }

    [Fact]
    public async Task TypedProxy_MapsNamesAndTimeouts()
    {
        await using var env = await LoadAsync(hosts.First);
        var client = env.As<IClientEnv>();
        var score = await client.ScoreAsync(11, "m", TimeSpan.FromSeconds(10)).Within();
        Assert.Equal(11, score.TaskId);
        Assert.True(score.Success);
        Assert.Equal(new EchoResult(1, "t"), await client.EchoTextAsync(1, "t").Within());
    }

    [Fact]
    public async Task Errors_AreSpecific()
    {
        await using var env = await LoadAsync(hosts.First);
        var missing = await Assert.ThrowsAsync<MethodNotFoundException>(() => env.CallAsync("nope"));
        Assert.Equal("nope", missing.Method);
        // Values pass through unchecked, as in the original; arguments that do not fit the signature are refused.
        var bad = await Assert.ThrowsAsync<BadArgumentsException>(() => env.CallAsync("echo", kwargs: new Dictionary<string, object?> { ["y"] = "seven" }));
        Assert.Equal("y", bad.Parameter);
        var remote = await Assert.ThrowsAsync<RemoteActorException>(() => env.CallAsync("fail", kwargs: new Dictionary<string, object?> { ["message"] = "model refused" }));
        Assert.Equal("ValueError", remote.RemoteType);
        Assert.Equal("model refused", remote.RemoteMessage);
        Assert.Equal(500, remote.StatusCode);
        var stats = Assert.Single(env.GetStats());
        Assert.Equal(3, stats.Failures); // calls that returned no result
        Assert.True(stats.Healthy); // the actor answered: the replica is fine
    }

    [Fact]
    public async Task Deadline_IsDistinctFromCancellation_AndTheServerCancelsTheWork()
    {
        await using var env = await LoadAsync(hosts.First);
        var clock = Stopwatch.StartNew();
        var deadline = await Assert.ThrowsAsync<DeadlineExceededException>(() =>
            env.CallAsync("sleep", kwargs: new Dictionary<string, object?> { ["ms"] = 20_000, ["tag"] = "deadline" }, timeout: TimeSpan.FromMilliseconds(300)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the 0.3 s deadline took {clock.Elapsed}");
        Assert.Equal(TimeSpan.FromMilliseconds(300), deadline.Deadline);

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            env.CallAsync("sleep", kwargs: new Dictionary<string, object?> { ["ms"] = 20_000, ["tag"] = "caller" }, cancellationToken: cancel.Token));
        Assert.IsNotType<DeadlineExceededException>(cancelled);

        await Bounded.Until(async () =>
        {
            var done = await env.CallAsync("cancellations");
            return done.EnumerateArray().Any(t => t.GetString() == "deadline");
        }, TimeSpan.FromSeconds(5), "the host cancelling the call past its deadline");
    }

    [Fact]
    public async Task ListMethods_Health_Stats()
    {
        await using var env = await LoadAsync(hosts.First, hosts.Second);
        var methods = await env.ListMethodsAsync().Within();
        Assert.Contains(methods, m => m.Name == "echo" && m.Signature.Contains("x: int"));
        Assert.True(await env.HealthAsync().Within());
        for (var i = 0; i < 10; i++)
        {
            await env.CallAsync("echo", [i]).Within();
        }
        var stats = env.GetStats();
        Assert.Equal(2, stats.Count);
        Assert.Equal(10, stats.Sum(s => s.Requests));
        Assert.All(stats, s => Assert.Equal(5, s.Requests)); // round robin
        Assert.All(stats, s => Assert.True(s.Healthy));
        Assert.All(stats, s => Assert.True(s.AverageLatencyMs > 0));
    }

    [Fact]
    public async Task AuthToken_IsSent()
    {
        await using var secured = HostProcess.Start(HostProcessesFixture.Env(("AFFINETES_AUTH_TOKEN", "tok-1")));
        await secured.WaitReadyAsync();
        var options = new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [$"http://127.0.0.1:{secured.Port}"], AuthToken = "tok-1" };
        await using var env = await AffinetesClient.LoadEnvAsync(options).Within();
        Assert.Equal(1, (await env.CallAsync("echo", [1]).Within()).GetProperty("x").GetInt32());
        var e = await Assert.ThrowsAsync<EnvironmentAuthenticationException>(() => AffinetesClient.LoadEnvAsync(options with { AuthToken = "nope" }).Within());
        Assert.Contains("rejected the auth token", e.Message);
        Assert.True(e.TokenSent);
        Assert.False(e.IsRetryable);
        var none = await Assert.ThrowsAsync<EnvironmentAuthenticationException>(() => AffinetesClient.LoadEnvAsync(options with { AuthToken = null }).Within());
        Assert.Contains("requires an auth token", none.Message);
        Assert.False(none.TokenSent);
    }

    [Fact]
    public async Task ReplicaKilledMidLoad_EveryCallIsStillAnswered()
    {
        await using var doomed = HostProcess.Start(HostProcessesFixture.Env());
        await doomed.WaitReadyAsync();
        await using var env = await LoadAsync(doomed, hosts.Second);
        var calls = new List<Task<JsonElement>>();
        for (var i = 0; i < 200; i++)
        {
            calls.Add(env.CallAsync("sleep", kwargs: new Dictionary<string, object?> { ["ms"] = 20, ["tag"] = $"k{i}" }));
            if (i == 60)
            {
                doomed.SendSigkill();
            }
            if (i % 20 == 0)
            {
                await Task.Delay(10);
            }
        }
        var results = await Task.WhenAll(calls).Within(TimeSpan.FromSeconds(60), "200 calls with a replica killed");
        Assert.Equal(200, results.Length);
        Assert.All(results, r => Assert.StartsWith("k", r.GetProperty("tag").GetString()));
        var stats = env.GetStats();
        Assert.False(stats.Single(s => s.Description.Contains($":{doomed.Port}", StringComparison.Ordinal)).Healthy);
    }

    [Fact]
    public async Task ServerOfThePythonOriginal_WithoutReady_IsCalledThroughHealth()
    {
        var port = DockerEngine.FreeLoopbackPort();
        var start = new ProcessStartInfo("python3") { UseShellExecute = false, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Envs", "original_like_server.py"));
        start.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var server = Process.Start(start)!;
        try
        {
            await using var env = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions
            {
                Mode = EnvironmentMode.Url,
                BaseUrls = [$"http://127.0.0.1:{port}"],
                ReadyTimeout = TimeSpan.FromSeconds(20),
            }).Within();
            Assert.Equal(6, (await env.CallAsync("add", [1, 2, 3]).Within()).GetInt32());
            await Assert.ThrowsAsync<MethodNotFoundException>(() => env.CallAsync("nope"));
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync().Within();
        }
    }

    [Fact]
    public async Task ReadinessProbe_OnAStartingHost_WaitsOnTheHostInsteadOfPolling()
    {
        await using var slow = HostProcess.Start(new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", "slow_start_env.py") });
        var answered = new List<string>();
        using var http = new HttpClient(new RecordingHandler(answered));
        var endpoint = new ReplicaEndpoint("slow", new Uri($"http://127.0.0.1:{slow.Port}"), "the slow host");
        await ValidatorClient.Pooling.ReadinessProbe.WaitAsync(http, endpoint, TimeSpan.FromSeconds(30),
            _ => Task.FromResult<EnvironmentUnavailableException?>(null), TimeProvider.System, CancellationToken.None).Within(TimeSpan.FromSeconds(40));
        // The import sleeps 1.5 s after the host listens: polling every 25 ms takes ~40-60 answered requests, waiting
        // on the host (1 s at a time) two or three, a few more on a slow machine.
        Assert.InRange(answered.Count, 1, 10);
        Assert.EndsWith("200", answered[^1]);
        Assert.All(answered, a => Assert.StartsWith("/ready?wait=", a));
    }

    /// <summary>Records the path and status of every request a server answered (connection failures are not answers).</summary>
    private sealed class RecordingHandler(List<string> answered) : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            lock (answered)
            {
                answered.Add($"{request.RequestUri!.PathAndQuery} {(int)response.StatusCode}");
            }
            return response;
        }
    }

    [Fact]
    public async Task UnreachableUrl_FailsWithinTheReadyTimeout()
    {
        var port = DockerEngine.FreeLoopbackPort();
        var e = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => AffinetesClient.LoadEnvAsync(new EnvironmentOptions
        {
            Mode = EnvironmentMode.Url,
            BaseUrls = [$"http://127.0.0.1:{port}"],
            ReadyTimeout = TimeSpan.FromSeconds(1),
        }).Within(TimeSpan.FromSeconds(20)));
        Assert.Contains("did not become ready within 1 s", e.Message);
    }
}

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ImageReferenceTests
{
    [Theory]
    [InlineData("python-arith", "python-arith", "latest")]
    [InlineData("miner/env:v3", "miner/env", "v3")]
    [InlineData("127.0.0.1:5000/miner/env", "127.0.0.1:5000/miner/env", "latest")]
    [InlineData("127.0.0.1:5000/miner/env:v3", "127.0.0.1:5000/miner/env", "v3")]
    [InlineData("miner/env@sha256:0123abcd", "miner/env", "sha256:0123abcd")]
    [InlineData("127.0.0.1:5000/miner/env:v3@sha256:0123abcd", "127.0.0.1:5000/miner/env", "sha256:0123abcd")]
    public void SplitReference_GivesTheRepositoryAndTheTagOrDigestToPull(string image, string repository, string tag) =>
        Assert.Equal((repository, tag), Backends.Docker.DockerBackend.SplitReference(image));
}

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class EnvironmentOptionsTests
{
    [Theory]
    [InlineData("1.5x", null, "cpu limit '1.5x' is not a CPU quantity")]
    [InlineData(null, "lots", "memory limit 'lots' is not a memory quantity")]
    public async Task BadQuantities_AreRejectedBeforeAnythingStarts(string? cpu, string? memory, string message)
    {
        var e = await Assert.ThrowsAsync<EnvironmentOptionsException>(() =>
            AffinetesClient.LoadEnvAsync(new EnvironmentOptions { Image = "never-started:latest", CpuLimit = cpu, MemLimit = memory }));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData(0, "replicas is 0")]
    [InlineData(65, "replicas is 65")]
    public void Replicas_OutOfRange(int replicas, string message) =>
        Assert.Contains(message, Assert.Throws<EnvironmentOptionsException>(() => new EnvironmentOptions { Image = "x", Replicas = replicas }.Validate()).Message);

    [Fact]
    public void UrlMode_NeedsHttpUrls()
    {
        Assert.Contains("needs at least one base URL", Assert.Throws<EnvironmentOptionsException>(() => new EnvironmentOptions { Mode = EnvironmentMode.Url }.Validate()).Message);
        Assert.Contains("not an http(s) URL", Assert.Throws<EnvironmentOptionsException>(() => new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = ["ftp://x"] }.Validate()).Message);
    }

    [Fact]
    public void OneProblem_IsTheMessage_AsItWas()
    {
        var e = Assert.Throws<EnvironmentOptionsException>(() => new EnvironmentOptions { Image = "x", Replicas = 0 }.Validate());
        Assert.Equal("replicas is 0; use 1 to 64", e.Message);
        Assert.Equal(["replicas is 0; use 1 to 64"], e.Errors);
    }

    [Fact]
    public void EveryProblem_IsCollected_InOneException_OnOneLine()
    {
        var options = new EnvironmentOptions
        {
            Image = "x",
            Replicas = 0,
            CpuLimit = "1.5x",
            Docker = new DockerOptions { Hardening = new ContainerHardening { PidsLimit = 1 } },
        };
        var e = Assert.Throws<EnvironmentOptionsException>(options.Validate);
        Assert.Equal(3, e.Errors.Count);
        Assert.StartsWith("replicas is 0", e.Errors[0], StringComparison.Ordinal);
        Assert.StartsWith("pids limit is 1", e.Errors[1], StringComparison.Ordinal);
        Assert.StartsWith("cpu limit '1.5x' is not a CPU quantity", e.Errors[2], StringComparison.Ordinal);
        Assert.Equal($"3 problems with the environment options: {e.Errors[0]}; {e.Errors[1]}; {e.Errors[2]}", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void EveryProblem_OfTheSubRecords_IsCollected_Too()
    {
        var options = new EnvironmentOptions
        {
            Mode = EnvironmentMode.Basilica,
            Image = "x",
            Replicas = 11,
            Health = new ReplicaHealthOptions { FailureRateThreshold = 2 },
            Docker = new DockerOptions { HostNetwork = true },
            Basilica = new BasilicaOptions { ApiUrl = "ftp://basilica.example", Token = "basilica_k", Ttl = TimeSpan.FromSeconds(10) },
            Llm = new LlmAccessOptions { Upstream = "llm.example" },
        };
        var e = Assert.Throws<EnvironmentOptionsException>(options.Validate);
        string[] expected =
        [
            "health: failure rate threshold is 2",
            "the host network is a Docker option",
            "a basilica deployment has 1 to 10",
            "basilica API URL 'ftp://basilica.example' is not an http(s) URL",
            "basilica TTL is 10 s",
            "set LlmAccessOptions.PublicBaseUrl",
            "LLM upstream 'llm.example' is not an http(s) URL",
        ];
        Assert.Equal(expected.Length, e.Errors.Count);
        Assert.All(expected, part => Assert.Contains(e.Errors, error => error.Contains(part, StringComparison.Ordinal)));
        Assert.StartsWith($"{expected.Length} problems with the environment options: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClientOptions_OneProblemAsItWas_SeveralTogether()
    {
        Assert.Equal("container creations per second is 0; use a rate of at least 0.01, e.g. 10",
            Assert.Throws<EnvironmentOptionsException>(new AffinetesClientOptions { MaxContainerCreationsPerSecond = 0 }.Validate).Message);
        var e = Assert.Throws<EnvironmentOptionsException>(new AffinetesClientOptions { MaxLiveContainers = 0, MaxContainerCreationsPerSecond = 0 }.Validate);
        Assert.Equal(2, e.Errors.Count);
        Assert.Equal($"2 problems with the client options: {e.Errors[0]}; {e.Errors[1]}", e.Message);
        Assert.StartsWith("container limits must be at least 1", e.Errors[0], StringComparison.Ordinal);
    }

    [Fact]
    public void AJob_ListsEachProblemOfItsEnvironment()
    {
        var job = new ValidatorClient.Jobs.EvaluationJob
        {
            Environment = new EnvironmentOptions { Image = "x", Replicas = 0, MemLimit = "lots" },
            Request = new Evaluation.EvaluationRequest { TaskIds = [1] },
        };
        var e = Assert.Throws<ValidatorClient.Jobs.JobOptionsException>(job.Validate);
        Assert.Contains(e.Problems, p => p.StartsWith("replicas is 0", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.StartsWith("memory limit 'lots'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnknownDockerHost_IsRejected()
    {
        var e = await Assert.ThrowsAsync<EnvironmentOptionsException>(() =>
            AffinetesClient.LoadEnvAsync(new EnvironmentOptions { Image = "x:y", Docker = new DockerOptions { Hosts = ["ftp://somewhere"] } }));
        Assert.Contains("is not one of: local", e.Message);
    }
}
