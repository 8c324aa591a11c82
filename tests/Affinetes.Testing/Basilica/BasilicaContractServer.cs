using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Affinetes.Testing.Basilica;

/// <summary>An answer the server gives instead of the real one, to the next <see cref="Times"/> requests that match.</summary>
/// <param name="Method">HTTP method (<c>POST</c>, <c>GET</c>, <c>DELETE</c>), or <c>*</c> for any (a burst of 429s hits whatever comes).</param>
/// <param name="PathPrefix">The request path starts with it, e.g. <c>/deployments</c>.</param>
/// <param name="Status">The status to answer.</param>
/// <param name="Body">The body (null: Basilica's error JSON for the status; empty: no body at all).</param>
/// <param name="Times">How many matching requests get it.</param>
public sealed record ScriptedFault(string Method, string PathPrefix, int Status, string? Body = null, int Times = 1)
{
    internal int Left = Times;
}

/// <summary>One create or delete the server saw.</summary>
public sealed record LedgerEntry(string Action, string InstanceName, DateTimeOffset At);

/// <summary>How the deployments of one image behave, as real images do on Basilica.</summary>
public abstract record ImageBehaviour
{
    /// <summary>Its pods start but never pass their readiness probe: the deployment stays in <c>health_check</c>.</summary>
    public sealed record NeverReady : ImageBehaviour;

    /// <summary>Ready, then its pods crash this long after (the deployment goes <c>Failed</c>, CrashLoopBackOff).</summary>
    public sealed record DiesAfter(TimeSpan After) : ImageBehaviour;

    /// <summary>Its first pod becomes ready as usual, the others only once <paramref name="Release"/> completes.</summary>
    public sealed record LatePods(Task Release) : ImageBehaviour;
}

/// <summary>
/// A local Basilica: the deployments API of <c>shared/reference/basilica-api.md</c> (bearer auth, Basilica's error
/// bodies, empty-bodied 401s, 200 for an active name, renamed instances, the state/phase lifecycle, events, logs,
/// TTL) on 127.0.0.1, each deployment backed by real containers in the local Docker engine, published on 127.0.0.1
/// behind an ingress (YARP) whose address is the deployment's <c>url</c>. Keeps a ledger of every create and delete.
/// The faults a real API has can be scripted: error answers (429 bursts, 503 on create or delete, empty-bodied 401s:
/// <see cref="Inject"/>), renamed instances, images that never become ready or die while they serve
/// (<see cref="Script"/>, <see cref="KillAsync"/>), proxies that refuse chunked bodies. It stands for a registry too:
/// a reference pinned by digest (<c>NAME@sha256:HEX</c>) is served by the local image whose id is that digest (an
/// engine has no registry digests for images it built).
/// </summary>
public sealed partial class BasilicaContractServer : IAsyncDisposable
{
    /// <summary>Label on every container the server starts, valued with the deployment's instance name.</summary>
    public const string InstanceLabel = "affinetes.test.basilica";

    private readonly WebApplication _app;
    private readonly DockerClient _docker = DockerEngine.CreateClient();
    private readonly ConcurrentDictionary<string, ContractDeployment> _deployments = new();
    private readonly ConcurrentQueue<LedgerEntry> _ledger = new();
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly ConcurrentQueue<JsonObject> _createBodies = new();
    private readonly ConcurrentBag<Task> _terminations = [];
    private readonly List<ScriptedFault> _faults = [];
    private readonly ConcurrentDictionary<string, ImageBehaviour> _behaviours = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _createFraming = new();
    private readonly Lock _gate = new();

    private BasilicaContractServer(WebApplication app)
    {
        _app = app;
    }

    /// <summary>The API root, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public string Url { get; private set; } = "";

    /// <summary>The one key the server accepts.</summary>
    public string Token { get; } = "basilica_test_" + Guid.NewGuid().ToString("N");

    /// <summary>Answer every create with a UUID as the instance name instead of the name sent.</summary>
    public bool RenameInstances { get; set; }

    /// <summary>How long each phase before ready lasts at least (pending, pulling, starting, health_check).</summary>
    public TimeSpan PhaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How often a pod's readiness probe is asked until it passes (Kubernetes: the probe's period).</summary>
    public TimeSpan ReadinessProbePeriod { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Every create and delete, in order.</summary>
    public IReadOnlyList<LedgerEntry> Ledger => [.. _ledger];

    /// <summary>Every API request as <c>METHOD /path</c>, in order.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    /// <summary>The bodies of the creates, as sent.</summary>
    public IReadOnlyList<JsonObject> CreateBodies => [.. _createBodies];

    /// <summary>Deployments not deleted yet.</summary>
    public IReadOnlyCollection<string> LiveDeployments => [.. _deployments.Keys];

    /// <summary>How each create's body came: <c>sized</c> (Content-Length) or <c>chunked</c>.</summary>
    public IReadOnlyList<string> CreateFraming => [.. _createFraming];

    /// <summary>Answer 411 to a body sent chunked, as some proxies in front of an API do.</summary>
    public bool RequireSizedBodies { get; set; }

    /// <summary>Extra <c>/etc/hosts</c> lines of every container, e.g. <c>host.docker.internal:host-gateway</c> (Docker 20.10+), so that a pod reaches the test machine as a Basilica pod reaches a public URL.</summary>
    public IList<string> ContainerExtraHosts { get; } = new List<string>();

    /// <summary>The environment of each deployment's pods, by instance name (what a pod could read).</summary>
    public IReadOnlyDictionary<string, Dictionary<string, string>> DeploymentEnv => _createdEnv;

    private readonly ConcurrentDictionary<string, Dictionary<string, string>> _createdEnv = new(StringComparer.Ordinal);

    /// <summary>Deployments of <paramref name="image"/> behave as <paramref name="behaviour"/> says.</summary>
    public void Script(string image, ImageBehaviour behaviour) => _behaviours[image] = behaviour;

    /// <summary>
    /// The deployment's pods crash: their containers are killed, the ingress has no ready pod, and the deployment goes
    /// <c>Failed</c> (CrashLoopBackOff) with events saying why, as when a miner's process dies under load.
    /// </summary>
    public async Task KillAsync(string instanceName, string why = "OOMKilled")
    {
        if (!_deployments.TryGetValue(instanceName, out var d))
        {
            return;
        }
        foreach (var pod in d.Pods)
        {
            pod.Ready = false;
        }
        foreach (var id in d.ContainerIds.ToArray())
        {
            try
            {
                await _docker.Containers.KillContainerAsync(id, new Docker.DotNet.Models.ContainerKillParameters());
            }
            catch (DockerApiException)
            {
            }
        }
        d.Event("Warning", "BackOff", $"Back-off restarting failed container: {why}");
        d.Event("Warning", "Unhealthy", "Liveness probe failed: connection refused");
        d.Move("Failed", "failed", $"CrashLoopBackOff: container terminated ({why})", null);
    }

    /// <summary>Queues an answer for the next matching request(s).</summary>
    public void Inject(ScriptedFault fault)
    {
        lock (_gate)
        {
            _faults.Add(fault);
        }
    }

    public static async Task<BasilicaContractServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new BasilicaContractServer(app);
        server.Map(app);
        await app.StartAsync();
        server.Url = app.Urls.First().TrimEnd('/') + "/";
        return server;
    }

    private void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var request = context.Request;
            _requests.Enqueue($"{request.Method} {request.Path}");
            if (TakeFault(request.Method, request.Path) is { } fault)
            {
                context.Response.StatusCode = fault.Status;
                if (fault.Body is null)
                {
                    await WriteErrorAsync(context, fault.Status, CodeFor(fault.Status), $"scripted {fault.Status}");
                }
                else if (fault.Body.Length > 0)
                {
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync(fault.Body);
                }
                return;
            }
            if (request.Path != "/health")
            {
                var header = request.Headers.Authorization.ToString();
                if (header.Length == 0)
                {
                    await WriteErrorAsync(context, 401, "BASILICA_API_AUTH_MISSING", "missing Authorization header");
                    return;
                }
                if (header != "Bearer " + Token)
                {
                    context.Response.StatusCode = 401; // Basilica answers a bad key with an empty body
                    return;
                }
            }
            await next(context);
        });
        app.MapGet("/health", () => Results.Json(new { status = "healthy", version = "contract-test", timestamp = DateTimeOffset.UtcNow }));
        app.MapPost("/deployments", (Func<HttpContext, Task<IResult>>)CreateAsync);
        app.MapGet("/deployments", () => Results.Json(new
        {
            deployments = _deployments.Values.OrderBy(d => d.CreatedAt).Select(d => d.ToJson()).ToList(),
            total = _deployments.Count,
        }));
        app.MapGet("/deployments/{name}", (HttpContext context, string name) => _deployments.TryGetValue(name, out var d)
            ? Results.Json(d.ToJson())
            : ErrorResult(404, "BASILICA_API_NOT_FOUND", $"deployment {name} not found"));
        app.MapDelete("/deployments/{name}", (string name) =>
        {
            if (!_deployments.TryRemove(name, out var d))
            {
                return ErrorResult(404, "BASILICA_API_NOT_FOUND", $"deployment {name} not found");
            }
            Terminate(d, "deleted by its owner");
            return Results.Json(new { instanceName = name, state = "Terminating", message = "deployment is being deleted" });
        });
        app.MapGet("/deployments/{name}/events", (string name, int? limit) => _deployments.TryGetValue(name, out var d)
            ? Results.Json(new { events = d.Events.TakeLast(limit ?? 50).ToList() })
            : ErrorResult(404, "BASILICA_API_NOT_FOUND", $"deployment {name} not found"));
        app.MapGet("/deployments/{name}/logs", LogsAsync);
    }

    private ScriptedFault? TakeFault(string method, PathString path)
    {
        lock (_gate)
        {
            var fault = _faults.FirstOrDefault(f => f.Left > 0 && (f.Method == "*" || f.Method.Equals(method, StringComparison.OrdinalIgnoreCase))
                && path.Value!.StartsWith(f.PathPrefix, StringComparison.Ordinal));
            if (fault is not null && --fault.Left == 0)
            {
                _faults.Remove(fault);
            }
            return fault;
        }
    }

    private static string CodeFor(int status) => status switch
    {
        400 => "BASILICA_API_VALIDATION_ERROR",
        401 => "BASILICA_API_AUTH_INVALID",
        402 => "BASILICA_API_INSUFFICIENT_BALANCE",
        403 => "BASILICA_API_FORBIDDEN",
        404 => "BASILICA_API_NOT_FOUND",
        409 => "BASILICA_API_CONFLICT",
        429 => "BASILICA_API_RATE_LIMITED",
        503 => "BASILICA_API_UNAVAILABLE",
        _ => "BASILICA_API_INTERNAL",
    };

    private static object ErrorBody(int status, string code, string message) => new
    {
        error = new { code, message, timestamp = DateTimeOffset.UtcNow, retryable = status is 429 or 503 },
    };

    private static IResult ErrorResult(int status, string code, string message) => Results.Json(ErrorBody(status, code, message), statusCode: status);

    private static Task WriteErrorAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(ErrorBody(status, code, message));
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^[0-9]+m?$")]
    private static partial Regex CpuForm();

    [GeneratedRegex("^[0-9]+(Mi|Gi|M|G)?$")]
    private static partial Regex MemoryForm();

    private async Task<IResult> CreateAsync(HttpContext context)
    {
        var chunked = context.Request.ContentLength is null;
        _createFraming.Enqueue(chunked ? "chunked" : "sized");
        if (chunked && RequireSizedBodies)
        {
            return ErrorResult(411, "BASILICA_API_LENGTH_REQUIRED", "a body must come with its Content-Length");
        }
        JsonObject body;
        try
        {
            body = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            return ErrorResult(400, "BASILICA_API_VALIDATION_ERROR", "the body is not a JSON object");
        }
        var name = (string?)body["instanceName"] ?? "";
        var image = (string?)body["image"] ?? "";
        var replicas = (int?)body["replicas"] ?? 1;
        var port = (int?)body["port"] ?? 8000;
        var cpu = (string?)body["resources"]?["cpu"];
        var memory = (string?)body["resources"]?["memory"];
        string? invalid = name.Length is 0 or > 63 || !DnsLabel().IsMatch(name) ? $"instanceName '{name}' is not a lowercase DNS label of at most 63 characters"
            : image.Length is 0 or > 1024 ? "image is required (at most 1024 characters)"
            : replicas is < 1 or > 10 ? $"replicas {replicas} is not 1-10"
            : port is < 1 or > 65535 ? $"port {port} is not 1-65535"
            : cpu is not null && !CpuForm().IsMatch(cpu) ? $"resources.cpu '{cpu}' does not match ^[0-9]+m?$"
            : memory is not null && !MemoryForm().IsMatch(memory) ? $"resources.memory '{memory}' does not match ^[0-9]+(Mi|Gi|M|G)?$"
            : null;
        if (invalid is not null)
        {
            return ErrorResult(400, "BASILICA_API_VALIDATION_ERROR", invalid);
        }
        if (_deployments.Values.FirstOrDefault(d => d.RequestedName == name && d.State is not ("Failed" or "Terminating")) is { } active)
        {
            return Results.Json(active.ToJson(), statusCode: 200); // that name exists and is active: the new spec is not applied
        }
        var instanceName = RenameInstances ? Guid.NewGuid().ToString() : name;
        var env = body["env"]?.AsObject().ToDictionary(kv => kv.Key, kv => (string?)kv.Value ?? "") ?? [];
        var ttl = (long?)body["ttlSeconds"];
        var readinessPath = (string?)body["healthCheck"]?["readiness"]?["path"] ?? "/health";
        var deployment = new ContractDeployment(instanceName, name, image, replicas, port, env, Nanocpus(cpu), Bytes(memory), ttl, readinessPath);
        // The public address exists from the create on (Basilica's is derived from the instance name); its ingress
        // answers 503 until a pod is ready.
        deployment.Url = await deployment.StartIngressAsync();
        _deployments[instanceName] = deployment;
        _createdEnv[instanceName] = env;
        _createBodies.Enqueue(body);
        _ledger.Enqueue(new LedgerEntry("create", instanceName, DateTimeOffset.UtcNow));
        deployment.Lifecycle = Task.Run(() => RunAsync(deployment));
        return Results.Json(deployment.ToJson(), statusCode: 201);
    }

    private static long Nanocpus(string? cpu) => cpu is null ? 0
        : cpu.EndsWith('m') ? long.Parse(cpu[..^1], CultureInfo.InvariantCulture) * 1_000_000
        : long.Parse(cpu, CultureInfo.InvariantCulture) * 1_000_000_000;

    private static long Bytes(string? memory)
    {
        if (memory is null)
        {
            return 0;
        }
        var digits = new string([.. memory.TakeWhile(char.IsDigit)]);
        var n = long.Parse(digits, CultureInfo.InvariantCulture);
        return memory[digits.Length..] switch
        {
            "Gi" => n << 30,
            "Mi" => n << 20,
            "G" => n * 1_000_000_000,
            "M" => n * 1_000_000,
            _ => n,
        };
    }

    /// <summary>pending, pulling, starting, health_check, ready; or failed with a message and events.</summary>
    private async Task RunAsync(ContractDeployment d)
    {
        var token = d.Stopping.Token;
        try
        {
            if (d.TtlSeconds is { } ttl)
            {
                _ = Task.Delay(TimeSpan.FromSeconds(ttl), token).ContinueWith(t =>
                {
                    if (!t.IsCanceled && _deployments.TryRemove(d.InstanceName, out _))
                    {
                        Terminate(d, "its TTL passed");
                    }
                }, TaskScheduler.Default);
            }
            d.Move("Pending", "pending", "waiting to be scheduled", 0);
            await Task.Delay(PhaseDelay, token);
            d.Move("Pending", "pulling", $"pulling image {d.Image}", 20);
            d.Event("Normal", "Pulling", $"Pulling image \"{d.Image}\"");
            d.ResolvedImage = await ResolveImageAsync(d.Image, token);
            if (d.ResolvedImage is null)
            {
                d.Event("Warning", "Failed", $"Failed to pull image \"{d.Image}\": manifest unknown");
                d.Event("Warning", "BackOff", $"Back-off pulling image \"{d.Image}\"");
                d.Move("Failed", "failed", $"ImagePullBackOff: image {d.Image} cannot be pulled", null);
                return;
            }
            d.Event("Normal", "Pulled", $"Successfully pulled image \"{d.Image}\"");
            await Task.Delay(PhaseDelay, token);
            d.Move("Active", "starting", "starting containers", 50);
            // Kubernetes starts a deployment's pods at once, not one after the other.
            var pods = await Task.WhenAll(Enumerable.Range(0, d.Desired).Select(i => StartContainerAsync(d, i, token)));
            foreach (var (i, (id, port)) in pods.Index())
            {
                d.Pods.Enqueue(new ContractPod(id, port));
                d.Event("Normal", "Started", $"Started container {i}");
            }
            await Task.Delay(PhaseDelay, token);
            d.Move("Active", "health_check", "waiting for readiness probes", 80);
            await Task.Delay(PhaseDelay, token);
            var behaviour = _behaviours.GetValueOrDefault(d.Image);
            if (behaviour is ImageBehaviour.NeverReady)
            {
                while (!token.IsCancellationRequested)
                {
                    d.Event("Warning", "Unhealthy", $"Readiness probe failed: Get \"http://pod:{d.Port}{d.ReadinessPath}\": connection refused");
                    d.Move("Active", "health_check", "readiness probe failed", 80);
                    await Task.Delay(TimeSpan.FromSeconds(1), token);
                }
                return;
            }
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
            while (d.Pods.Any(p => !p.Ready))
            {
                foreach (var pod in d.Pods.Where(p => !p.Ready))
                {
                    if (behaviour is ImageBehaviour.LatePods { Release.IsCompleted: false } && pod != d.Pods.First())
                    {
                        continue;
                    }
                    var inspected = await _docker.Containers.InspectContainerAsync(pod.ContainerId, token);
                    if (inspected.State?.Running != true)
                    {
                        d.Event("Warning", "BackOff", $"Back-off restarting failed container (exit code {inspected.State?.ExitCode})");
                        d.Move("Failed", "failed", $"CrashLoopBackOff: container exited with code {inspected.State?.ExitCode}", null);
                        return;
                    }
                    try
                    {
                        using var answer = await http.GetAsync($"http://127.0.0.1:{pod.Port}{d.ReadinessPath}", token);
                        if (answer.IsSuccessStatusCode)
                        {
                            d.PodReady(pod);
                        }
                    }
                    catch (HttpRequestException)
                    {
                    }
                    catch (TaskCanceledException) when (!token.IsCancellationRequested)
                    {
                    }
                }
                d.Touch();
                await Task.Delay(ReadinessProbePeriod, token);
            }
            if (behaviour is ImageBehaviour.DiesAfter dies)
            {
                await Task.Delay(dies.After, token);
                await KillAsync(d.InstanceName, "OOMKilled");
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException)
        {
            d.Event("Warning", "Failed", e.Message);
            d.Move("Failed", "failed", e.Message, null);
        }
    }

    /// <summary>The local image a reference names (a pinned one by the image id it names); null when there is none, as a registry without it.</summary>
    private async Task<string?> ResolveImageAsync(string image, CancellationToken cancellationToken)
    {
        var at = image.LastIndexOf('@');
        foreach (var candidate in at < 0 ? [image] : new[] { image, image[(at + 1)..] })
        {
            try
            {
                return (await _docker.Images.InspectImageAsync(candidate, cancellationToken)).ID;
            }
            catch (DockerImageNotFoundException)
            {
            }
            catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.BadRequest)
            {
            }
        }
        return null;
    }

    private async Task<(string Id, int Port)> StartContainerAsync(ContractDeployment d, int index, CancellationToken cancellationToken)
    {
        var port = $"{d.Port}/tcp";
        var created = await _docker.Containers.CreateContainerAsync(new Docker.DotNet.Models.CreateContainerParameters
        {
            Name = $"basilica-{d.InstanceName}-{index}",
            Image = d.ResolvedImage ?? d.Image,
            Env = [.. d.Env.Select(kv => $"{kv.Key}={kv.Value}")],
            Labels = new Dictionary<string, string> { [DockerEngine.TestLabel] = "true", [InstanceLabel] = d.InstanceName },
            ExposedPorts = new Dictionary<string, Docker.DotNet.Models.EmptyStruct> { [port] = default },
            HostConfig = new Docker.DotNet.Models.HostConfig
            {
                PortBindings = new Dictionary<string, IList<Docker.DotNet.Models.PortBinding>>
                {
                    [port] = [new Docker.DotNet.Models.PortBinding { HostIP = "127.0.0.1", HostPort = "" }],
                },
                NanoCPUs = d.NanoCpus,
                Memory = d.MemoryBytes,
                ExtraHosts = [.. ContainerExtraHosts],
            },
        }, CancellationToken.None);
        d.ContainerIds.Enqueue(created.ID); // known before it starts, so a delete removes it whatever happens next
        await _docker.Containers.StartContainerAsync(created.ID, new Docker.DotNet.Models.ContainerStartParameters(), cancellationToken);
        var inspected = await _docker.Containers.InspectContainerAsync(created.ID, cancellationToken);
        return (created.ID, int.Parse(inspected.NetworkSettings!.Ports![port][0].HostPort, CultureInfo.InvariantCulture));
    }

    private async Task LogsAsync(HttpContext context, string name)
    {
        if (!_deployments.TryGetValue(name, out var d))
        {
            await WriteErrorAsync(context, 404, "BASILICA_API_NOT_FOUND", $"deployment {name} not found");
            return;
        }
        context.Response.ContentType = "text/event-stream";
        foreach (var id in d.ContainerIds.ToArray())
        {
            using var stream = await _docker.Containers.GetContainerLogsAsync(id,
                new Docker.DotNet.Models.ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Tail = context.Request.Query["tail"].FirstOrDefault() ?? "all" }, context.RequestAborted);
            var (stdout, stderr) = await stream.ReadOutputToEndAsync(context.RequestAborted);
            foreach (var (text, kind) in new[] { (stdout, "stdout"), (stderr, "stderr") })
            {
                foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    var data = JsonSerializer.Serialize(new { timestamp = DateTimeOffset.UtcNow, stream = kind, message = line });
                    await context.Response.WriteAsync($"data: {data}\n\n", context.RequestAborted);
                }
            }
        }
    }

    private void Terminate(ContractDeployment d, string why)
    {
        _ledger.Enqueue(new LedgerEntry(why.StartsWith("deleted", StringComparison.Ordinal) ? "delete" : "expire", d.InstanceName, DateTimeOffset.UtcNow));
        d.Move("Terminating", "terminating", why, null);
        _terminations.Add(Task.Run(async () =>
        {
            await d.Stopping.CancelAsync();
            if (d.Lifecycle is { } lifecycle)
            {
                await lifecycle.WaitAsync(TimeSpan.FromSeconds(60)).ContinueWith(_ => { }, TaskScheduler.Default);
            }
            await d.StopIngressAsync();
            foreach (var id in d.ContainerIds.ToArray())
            {
                await DockerEngine.RemoveContainerQuietlyAsync(_docker, id);
            }
        }));
    }

    /// <summary>Containers the server started that still exist (for any deployment).</summary>
    public async Task<IList<string>> LiveContainersAsync()
    {
        var list = await _docker.Containers.ListContainersAsync(new Docker.DotNet.Models.ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [InstanceLabel] = true } },
        });
        var ours = _ledger.Select(e => e.InstanceName).ToHashSet();
        return [.. list.Where(c => ours.Contains(c.Labels[InstanceLabel])).Select(c => c.Labels[InstanceLabel])];
    }

    /// <summary>
    /// Throws unless every deployment created was deleted by its client (not merely expired) and every container
    /// behind them is gone. Waits (bounded) for terminations in progress.
    /// </summary>
    public async Task AssertAllDeletedAsync()
    {
        await Task.WhenAll(_terminations).WaitAsync(TimeSpan.FromSeconds(60));
        var created = _ledger.Where(e => e.Action == "create").Select(e => e.InstanceName).ToList();
        var deleted = _ledger.Where(e => e.Action == "delete").Select(e => e.InstanceName).ToHashSet();
        var left = created.Where(n => !deleted.Contains(n)).ToList();
        if (left.Count > 0)
        {
            throw new InvalidOperationException($"deployments created and never deleted: {string.Join(", ", left)}");
        }
        if (await LiveContainersAsync() is { Count: > 0 } containers)
        {
            throw new InvalidOperationException($"containers of deleted deployments still exist: {string.Join(", ", containers)}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var name in _deployments.Keys.ToList())
        {
            if (_deployments.TryRemove(name, out var d))
            {
                Terminate(d, "server stopped");
            }
        }
        await Task.WhenAll(_terminations).WaitAsync(TimeSpan.FromSeconds(60)).ContinueWith(_ => { }, TaskScheduler.Default);
        await _app.DisposeAsync();
        _docker.Dispose();
    }
}
