using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;
using Affinetes.ValidatorClient.Gateway;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>
/// Isolated containers and the LLM gateway, with real containers and the tests' local OpenAI-compatible server as
/// the upstream. Probes target only the tests' own containers, the host's address on the default bridge and
/// 127.0.0.1.
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(NetworkIsolationCollection.Name)]
public sealed class NetworkIsolationTests(NetworkIsolationFixture fixture)
{
    private static readonly TimeSpan LoadLimit = TimeSpan.FromMinutes(2);

    private static Dictionary<string, object?> Kw(params (string, object?)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    /// <summary>A key in a variable of this process only, as a validator's CHUTES_API_KEY.</summary>
    private static (string Variable, string Key) SecretKey()
    {
        var variable = "AFFINETES_TEST_LLM_KEY_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var key = "sk-secret-" + Guid.NewGuid().ToString("N");
        System.Environment.SetEnvironmentVariable(variable, key);
        return (variable, key);
    }

    /// <summary>The probing environment with its model calls through the gateway to <paramref name="upstream"/> (no key).</summary>
    private Task<IEnvironment> LoadProbeAsync(IAffinetesClient client, LocalLlmServer upstream, ContainerNetwork? network = null, Func<LlmAccessOptions, LlmAccessOptions>? limits = null) =>
        client.LoadEnvAsync(new EnvironmentOptions
        {
            Image = fixture.ProbeImage,
            Docker = new DockerOptions { Network = network ?? ContainerNetwork.Isolated },
            Llm = (limits ?? (llm => llm))(new LlmAccessOptions { Upstream = upstream.BaseUrl.ToString(), KeyVariable = null }),
        }).Within(LoadLimit);

    [Fact]
    public async Task Isolated_ReachesNeitherTheTestsNetworkNorHostPorts_WhileTheGatewayAnswers()
    {
        await using var upstream = await LocalLlmServer.StartAsync(_ => LlmReply.Text("pong"));
        using var hostService = new TcpListener(IPAddress.Parse(fixture.BridgeGateway), 0);
        hostService.Start();
        var hostPort = ((IPEndPoint)hostService.LocalEndpoint).Port;
        await using var client = AffinetesClient.Create();

        // The probes can see what is there: a container on the tests' network reaches the server, an open container the host.
        Assert.Equal(0, await fixture.ConnectFromTestNetworkAsync());
        await using (var open = await client.LoadEnvAsync(new EnvironmentOptions { Image = fixture.ProbeImage }).Within(LoadLimit))
        {
            Assert.Equal("connected", (await open.CallAsync("connect", kwargs: Kw(("host", fixture.BridgeGateway), ("port", hostPort)))).GetString());
        }

        await using var isolated = await LoadProbeAsync(client, upstream);
        var replica = Assert.Single(isolated.Replicas);
        Assert.EndsWith(".unix.affinetes.invalid", replica.BaseUrl.Host, StringComparison.Ordinal);
        var inspected = await fixture.Docker.Containers.InspectContainerAsync(replica.Id);
        Assert.Equal("none", inspected.HostConfig!.NetworkMode);
        Assert.Empty(inspected.NetworkSettings!.Ports ?? new Dictionary<string, IList<Docker.DotNet.Models.PortBinding>>());

        async Task<string> Connect(string host, int port) =>
            (await isolated.CallAsync("connect", kwargs: Kw(("host", host), ("port", port)))).GetString()!;
        Assert.NotEqual("connected", await Connect(fixture.ServerAddress, NetworkIsolationFixture.ServerPort));
        Assert.NotEqual("connected", await Connect(fixture.BridgeGateway, hostPort));
        Assert.NotEqual("connected", await Connect("127.0.0.1", hostPort));
        Assert.Contains("unreachable", await Connect(fixture.ServerAddress, NetworkIsolationFixture.ServerPort), StringComparison.OrdinalIgnoreCase);

        var answer = await isolated.CallAsync("chat", kwargs: Kw(("model", "m")));
        Assert.Equal(200, answer.GetProperty("status").GetInt32());
        Assert.Contains("pong", answer.GetProperty("body").GetString(), StringComparison.Ordinal);
        Assert.Equal("http://127.0.0.1:8791/v1", isolated.LlmBaseUrl);
    }

    [Fact]
    public async Task Isolated_PythonArith_ScoresThroughTheGateway_AndTheTaskUsageIsCounted()
    {
        var answers = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        await using var upstream = await LocalLlmServer.StartAsync(request =>
            LlmReply.Text(answers.TryGetValue(request.LastUserMessage, out var expected) ? $"Answer: {expected}" : "Answer: -1") with { Usage = (31, 7) });
        var (variable, key) = SecretKey();
        await using var client = AffinetesClient.Create();
        await using var env = await client.LoadEnvAsync(new EnvironmentOptions
        {
            Image = fixture.ArithImage,
            Docker = new DockerOptions { Network = ContainerNetwork.Isolated },
            Llm = new LlmAccessOptions { Upstream = upstream.BaseUrl.ToString(), KeyVariable = variable },
        }).Within(LoadLimit);
        var challenge = await env.CallAsync("generate", kwargs: Kw(("task_id", 7)));
        answers[challenge.GetProperty("prompt").GetString()!] = challenge.GetProperty("expected").GetInt64();

        var result = await env.CallAsync("evaluate", kwargs: Kw(("task_id", 7), ("model", "arith-model"),
            ("base_url", GatewayRoutes.TaskBaseUrl(env.LlmBaseUrl!, "7"))), timeout: TimeSpan.FromSeconds(60));

        Assert.Equal(1.0, result.GetProperty("score").GetDouble());
        var request = Assert.Single(upstream.Requests);
        Assert.Equal("Bearer " + key, request.Authorization);
        var usage = await env.GetLlmUsageAsync();
        Assert.NotNull(usage);
        Assert.Equal(1, usage.Requests);
        Assert.Equal((31, 7), (usage.PromptTokens, usage.CompletionTokens));
        Assert.Equal(38, usage.Tasks["7"].TotalTokens);

        // Through the evaluation runner with the gateway's base URL: each task's calls are counted for it and stored with the results.
        var storePath = Path.Combine(Path.GetTempPath(), $"affinetes-usage-{Guid.NewGuid():N}.db");
        try
        {
            await using var store = await ResultStore.OpenAsync(storePath).Within();
            var run = await EvaluationRunner.Create(env, store).StartAsync(new EvaluationRequest
            {
                TaskIds = [7, 8, 9],
                Kwargs = new Dictionary<string, object?> { ["model"] = "arith-model", ["base_url"] = env.LlmBaseUrl },
                UseCache = false,
            }).Within();
            var results = new List<TaskResult>();
            await foreach (var taskResult in run.ResultsAsync())
            {
                results.Add(taskResult);
            }
            Assert.All(results, r => Assert.True(r.Completed, r.Error));
            // Each result comes with its usage, collected from the gateway as it was stored (task 7's earlier call is not the run's).
            Assert.All(results, r => Assert.Equal((1L, 38L), (r.LlmUsage?.Requests ?? 0, r.LlmUsage?.TotalTokens ?? 0)));
            var stored = await store.GetLlmUsageAsync(run.Id).Within();
            Assert.Equal([7, 8, 9], stored.Keys.Order());
            Assert.All(stored.Values, u => Assert.Equal((1L, 31L, 7L, 38L), (u.Requests, u.PromptTokens, u.CompletionTokens, u.TotalTokens)));
        }
        finally
        {
            File.Delete(storePath);
        }
    }

    [Fact]
    public async Task Gateway_SwapsTheToken_TheRealKeyIsInNoContainerEnvironmentInspectLogOrAnswer()
    {
        // The upstream says back the Authorization it got: the gateway must not let the key through in an answer.
        await using var upstream = await LocalLlmServer.StartAsync(request => LlmReply.Text("you sent " + request.Authorization));
        var (variable, key) = SecretKey();
        var lines = new List<string>();
        using var logs = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new ListLoggerProvider(lines)));
        await using var client = AffinetesClient.Create(logs);
        await using var env = await client.LoadEnvAsync(new EnvironmentOptions
        {
            Image = fixture.ProbeImage,
            Docker = new DockerOptions { Network = ContainerNetwork.Isolated },
            // The caller's own copy of the key in the container's settings is replaced by the token too.
            EnvVars = new Dictionary<string, string> { ["CHUTES_API_KEY"] = "placeholder" },
            Llm = new LlmAccessOptions { Upstream = upstream.BaseUrl.ToString(), KeyVariable = variable, AllowedModels = ["m"] },
        }).Within(LoadLimit);

        var environment = await env.CallAsync("environment");
        var token = environment.GetProperty("OPENAI_API_KEY").GetString()!;
        Assert.StartsWith("afgw-", token, StringComparison.Ordinal);
        Assert.Equal(token, environment.GetProperty("CHUTES_API_KEY").GetString());
        Assert.Equal(env.LlmBaseUrl, environment.GetProperty("OPENAI_BASE_URL").GetString());
        Assert.Equal(env.LlmBaseUrl, environment.GetProperty("AFFINETES_LLM_BASE_URL").GetString());
        Assert.DoesNotContain(key, environment.GetRawText(), StringComparison.Ordinal);

        var answer = await env.CallAsync("chat", kwargs: Kw(("model", "m")));
        var refused = await env.CallAsync("chat", kwargs: Kw(("model", "not-allowed"))); // a refusal the gateway logs
        Assert.Equal(403, refused.GetProperty("status").GetInt32());
        Assert.Equal(200, answer.GetProperty("status").GetInt32());
        Assert.Equal("Bearer " + key, Assert.Single(upstream.Requests).Authorization);
        Assert.Contains("you sent Bearer " + new string('*', key.Length), answer.GetProperty("body").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(key, answer.GetRawText(), StringComparison.Ordinal);

        var inspected = await fixture.Docker.Containers.InspectContainerAsync(env.Replicas[0].Id);
        Assert.DoesNotContain(key, JsonSerializer.Serialize(inspected), StringComparison.Ordinal);
        Assert.Contains(inspected.Config!.Env, e => e == "CHUTES_API_KEY=" + token);

        var containerLog = new List<string>();
        await foreach (var line in env.ReadLogsAsync(follow: false).WithCancellation(CancellationToken.None))
        {
            containerLog.Add(line.Line);
        }
        Assert.NotEmpty(containerLog);
        Assert.DoesNotContain(containerLog, l => l.Contains(key, StringComparison.Ordinal));
        string[] clientLog;
        lock (lines)
        {
            clientLog = [.. lines];
        }
        Assert.Contains(clientLog, l => l.Contains("llm gateway", StringComparison.Ordinal) && l.Contains("model_not_allowed", StringComparison.Ordinal));
        Assert.DoesNotContain(clientLog, l => l.Contains(key, StringComparison.Ordinal) || l.Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Gateway_ModelOutsideTheAllowList_AndASpentBudget_AreRefusedToTheActor()
    {
        await using var upstream = await LocalLlmServer.StartAsync(_ => LlmReply.Text("fine") with { Usage = (20, 20) });
        await using var client = AffinetesClient.Create();
        await using var env = await LoadProbeAsync(client, upstream, limits: llm => llm with { AllowedModels = ["good-model"], BudgetTokens = 30 });

        var other = await env.CallAsync("chat", kwargs: Kw(("model", "other-model")));
        Assert.Equal(403, other.GetProperty("status").GetInt32());
        Assert.Contains(GatewayErrorCodes.ModelNotAllowed, other.GetProperty("body").GetString(), StringComparison.Ordinal);
        Assert.Empty(upstream.Requests);

        var first = await env.CallAsync("chat", kwargs: Kw(("model", "good-model")));
        Assert.Equal(200, first.GetProperty("status").GetInt32());
        var spent = await env.CallAsync("chat", kwargs: Kw(("model", "good-model")));
        Assert.Equal(429, spent.GetProperty("status").GetInt32());
        Assert.Contains(GatewayErrorCodes.BudgetExhausted, spent.GetProperty("body").GetString(), StringComparison.Ordinal);
        Assert.Single(upstream.Requests);
        var usage = (await env.GetLlmUsageAsync())!;
        Assert.Equal(40, usage.TotalTokens);
        Assert.Equal(1, usage.Rejected[GatewayErrorCodes.ModelNotAllowed]);
        Assert.Equal(1, usage.Rejected[GatewayErrorCodes.BudgetExhausted]);
    }

    [Fact]
    public async Task Gateway_AStreamReachesTheActorEventByEvent_AndUsageEqualsWhatTheUpstreamReported()
    {
        await using var upstream = await LocalLlmServer.StartAsync(_ => LlmReply.Text("one two three four") with { Usage = (12, 4) });
        await using var client = AffinetesClient.Create();
        await using var env = await LoadProbeAsync(client, upstream);

        var streamed = await env.CallAsync("chat", kwargs: Kw(("model", "m"), ("stream", true)));
        var plain = await env.CallAsync("chat", kwargs: Kw(("model", "m")));

        Assert.Equal(200, streamed.GetProperty("status").GetInt32());
        Assert.StartsWith("text/event-stream", streamed.GetProperty("content_type").GetString(), StringComparison.Ordinal);
        var events = streamed.GetProperty("lines").EnumerateArray().Select(l => l.GetString()!).ToList();
        Assert.True(events.Count(e => e.StartsWith("data: {", StringComparison.Ordinal)) >= 2, string.Join("\n", events));
        Assert.Equal("data: [DONE]", events[^1]);
        var text = string.Concat(events.Where(e => e.StartsWith("data: {", StringComparison.Ordinal))
            .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("choices"))
            .Where(c => c.GetArrayLength() > 0)
            .Select(c => c[0].GetProperty("delta").TryGetProperty("content", out var part) ? part.GetString() : ""));
        Assert.Equal("one two three four", text);
        Assert.Equal(200, plain.GetProperty("status").GetInt32());

        var usage = (await env.GetLlmUsageAsync())!;
        var reported = upstream.ReportedTokens;
        Assert.Equal((24, 8), reported);
        Assert.Equal(reported, (usage.PromptTokens, usage.CompletionTokens));
        Assert.Equal(2, usage.Requests);
        Assert.Equal(0, usage.ResponsesWithoutUsage);
    }

    [Fact]
    public async Task AllowList_TunnelsToTheNamedHostOnly_ThroughTheGatewaysProxy()
    {
        await using var upstream = await LocalLlmServer.StartAsync();
        using var allowed = new TcpListener(IPAddress.Loopback, 0);
        using var other = new TcpListener(IPAddress.Loopback, 0);
        allowed.Start();
        other.Start();
        var allowedPort = ((IPEndPoint)allowed.LocalEndpoint).Port;
        var otherPort = ((IPEndPoint)other.LocalEndpoint).Port;
        var echo = Task.Run(async () =>
        {
            using var connection = await allowed.AcceptTcpClientAsync();
            var stream = connection.GetStream();
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer);
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes("echo " + System.Text.Encoding.ASCII.GetString(buffer, 0, read)));
        });
        await using var client = AffinetesClient.Create();
        await using var env = await LoadProbeAsync(client, upstream, ContainerNetwork.Parse($"allow:127.0.0.1:{allowedPort}"));

        var through = await env.CallAsync("tunnel", kwargs: Kw(("host", "127.0.0.1"), ("port", allowedPort)));
        await echo.Within();
        var refused = await env.CallAsync("tunnel", kwargs: Kw(("host", "127.0.0.1"), ("port", otherPort)));

        Assert.Equal(200, through.GetProperty("status").GetInt32());
        Assert.Equal("echo ping\n", through.GetProperty("reply").GetString());
        Assert.Equal(403, refused.GetProperty("status").GetInt32());
        Assert.Equal(1, (await env.GetLlmUsageAsync())!.Tunnels);
    }

    [Fact]
    public async Task Isolated_ReplicasServeAndAreReplacedLikeOthers_AndTheirSocketDirectoriesGoWithThem()
    {
        await using var upstream = await LocalLlmServer.StartAsync();
        string socketDirectory;
        await using (var client = AffinetesClient.Create())
        {
            await using var env = await client.LoadEnvAsync(new EnvironmentOptions
            {
                Image = fixture.ProbeImage,
                Replicas = 2,
                Docker = new DockerOptions { Network = ContainerNetwork.Isolated },
            }).Within(LoadLimit);
            Assert.Equal(2, env.Replicas.Count);
            var pids = new HashSet<string>();
            foreach (var _ in Enumerable.Range(0, 4))
            {
                pids.Add((await env.CallAsync("environment")).GetProperty("HOSTNAME").GetString()!);
            }
            Assert.Equal(2, pids.Count);
            Assert.Null(env.LlmBaseUrl);
            var inspected = await fixture.Docker.Containers.InspectContainerAsync(env.Replicas[0].Id);
            socketDirectory = Path.GetDirectoryName(inspected.Mounts.Single(m => m.Destination == "/run/affinetes/host").Source)!;
            Assert.True(Directory.Exists(socketDirectory));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(socketDirectory));
        }
        Assert.False(Directory.Exists(socketDirectory), "the socket directories are removed with the environment");
    }

    [Fact]
    public async Task HardenedContainer_NonRootReadOnlyWithoutCapabilities_IsReachedThroughItsSocket_AndReachesTheGateway()
    {
        // The hardened profile (another part's) runs containers as 65534 with a read-only root and no capabilities:
        // the socket directory and the relay must work there too. Started by hand with that profile, then attached to.
        await using var upstream = await LocalLlmServer.StartAsync(_ => LlmReply.Text("hardened pong"));
        await using var gateway = await LlmGatewayProcess.StartAsync(new LlmAccessOptions { Upstream = upstream.BaseUrl.ToString(), KeyVariable = null },
            NullLogger.Instance, CancellationToken.None).Within();
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "hardened" }, CancellationToken.None).Within();
        var access = new GatewayAccess(gateway, "hardened", token, []);
        var root = Directory.CreateTempSubdirectory("affinetes-hardened-");
        var socketDirectory = Directory.CreateDirectory(Path.Combine(root.FullName, "replica")).FullName;
        File.SetUnixFileMode(socketDirectory, (UnixFileMode)0x1FF);
        var name = "affinetes-test-hardened-" + Guid.NewGuid().ToString("N")[..8];
        var created = await fixture.Docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = name,
            Image = fixture.ProbeImage,
            User = "65534:65534",
            Env = [$"{HostEnvironment.UnixSocket}=/run/affinetes/host/host.sock", .. access.ContainerVariables(GatewayAccess.RelayPort).Select(v => $"{v.Key}={v.Value}")],
            Labels = new Dictionary<string, string> { [DockerEngine.TestLabel] = "true" },
            HostConfig = new HostConfig
            {
                NetworkMode = "none",
                ReadonlyRootfs = true,
                CapDrop = ["ALL"],
                SecurityOpt = ["no-new-privileges"],
                PidsLimit = 64,
                Tmpfs = new Dictionary<string, string> { ["/tmp"] = "size=64m" },
                Binds = [$"{socketDirectory}:/run/affinetes/host", $"{gateway.ApiDirectory}:{GatewayAccess.MountPath}:ro"],
            },
        });
        try
        {
            await fixture.Docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
            await using var client = AffinetesClient.Create();
            await using var env = await client.LoadEnvAsync(new EnvironmentOptions
            {
                ConnectOnly = true,
                ContainerName = name,
                Image = fixture.ProbeImage,
                Cleanup = false,
            }).Within(LoadLimit);

            var user = await env.CallAsync("whoami");
            Assert.Equal(65534, user.GetProperty("uid").GetInt32());
            var answer = await env.CallAsync("chat", kwargs: Kw(("model", "m")));
            Assert.Equal(200, answer.GetProperty("status").GetInt32());
            Assert.Contains("hardened pong", answer.GetProperty("body").GetString(), StringComparison.Ordinal);
            Assert.NotEqual("connected", (await env.CallAsync("connect", kwargs: Kw(("host", fixture.BridgeGateway), ("port", 9)))).GetString());
        }
        finally
        {
            await DockerEngine.RemoveContainerQuietlyAsync(fixture.Docker, created.ID);
            root.Delete(recursive: true);
        }
    }
}
