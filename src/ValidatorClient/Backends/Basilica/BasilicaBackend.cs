using System.Diagnostics;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Backends.Basilica;

/// <summary>
/// Replicas as ONE Basilica deployment with <see cref="EnvironmentOptions.Replicas"/> pods behind its URL, created
/// once per load and reused by every call (Basilica's ingress spreads calls over the pods; the pool's slots all
/// reach that URL, so a call whose pod fails is sent again through it). Created with a TTL, noted as ours (with the
/// process that will delete it) before it is asked for, waited for until Basilica says it is ready
/// (<see cref="DeploymentReadiness"/>), and deleted (retried until gone) when the environment is released or its
/// start fails or is cancelled. Pods cannot be replaced from here: Kubernetes restarts them; a deployment Basilica
/// reports failed or gone while it serves is <see cref="Lost"/>. With <see cref="EnvironmentOptions.ConnectOnly"/> it
/// finds a running deployment by the name its environment was given (or Basilica's) and never deletes it.
/// </summary>
internal sealed class BasilicaBackend : IBackend
{
    /// <summary>The deadline assumed for calls when none is configured (the validators' <c>_timeout=360</c>).</summary>
    internal static readonly TimeSpan AssumedCallDeadline = TimeSpan.FromSeconds(360);

    private static readonly TimeSpan DiagnoseEvery = TimeSpan.FromSeconds(5);

    private readonly EnvironmentOptions _options;
    private readonly CpuQuantity? _cpu;
    private readonly MemoryQuantity? _memory;
    private readonly ILogger _logger;
    private readonly TimeSpan? _callDeadline;
    private readonly bool _perCall;
    private readonly Gateway.GatewayAccess? _gateway;
    private readonly BasilicaApi _api;
    private readonly OwnedDeployments _owned;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource<BasilicaDeploymentException> _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Deployment? _deployment;
    private string? _instanceName;
    private Task? _released;
    private (DateTime At, EnvironmentUnavailableException? Verdict) _diagnosis;

    /// <param name="options">The environment's options (mode basilica).</param>
    /// <param name="cpu">Parsed CPU limit.</param>
    /// <param name="memory">Parsed memory limit.</param>
    /// <param name="logger">Where phases and deletes are logged.</param>
    /// <param name="gateway">The environment's registration with the LLM gateway (its public URL and token go into the deployment); null without one.</param>
    /// <param name="callDeadline">The one call this deployment serves (fresh deployment per call), for its TTL.</param>
    /// <param name="perCall">The environment deploys per call: this backend provides no replicas, it only checks the key.</param>
    public BasilicaBackend(EnvironmentOptions options, CpuQuantity? cpu, MemoryQuantity? memory, ILogger logger, Gateway.GatewayAccess? gateway = null,
        TimeSpan? callDeadline = null, bool perCall = false)
    {
        _options = options;
        _cpu = cpu;
        _memory = memory;
        _logger = logger;
        _gateway = gateway;
        _callDeadline = callDeadline;
        _perCall = perCall;
        _api = new BasilicaApi(options.Basilica, logger);
        _owned = new OwnedDeployments(options.Basilica.ResolvedStateDirectory);
    }

    public string Name => "basilica";

    public int ReplicaCount => _perCall ? 0 : _options.Replicas;

    public bool CanReplace => false;

    /// <summary>The name Basilica gave the deployment, once created (or found).</summary>
    public string? InstanceName => _instanceName;

    /// <summary>
    /// Completes when Basilica reports the deployment failed or gone while it serves (its pods crashed, it was deleted
    /// elsewhere, its TTL passed): with its phase, message and recent events. Noticed when its replicas stop answering.
    /// </summary>
    public Task<BasilicaDeploymentException> Lost => _lost.Task;

    /// <summary>
    /// Basilica's <c>ttlSeconds</c>: <see cref="BasilicaOptions.Ttl"/> when set, else the ready timeout + the longest
    /// call deadline (this call's, the default call timeout, else 360 s) + <see cref="BasilicaOptions.TtlBuffer"/>.
    /// </summary>
    internal long TtlSeconds => (long)Math.Ceiling((_options.Basilica.Ttl
        ?? _options.ReadyTimeout + (_callDeadline ?? _options.DefaultCallTimeout ?? AssumedCallDeadline) + _options.Basilica.TtlBuffer).TotalSeconds);

    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (_perCall)
        {
            await _api.ListAsync(cancellationToken); // a wrong key or an unreachable API fails the load, not the first call
            return;
        }
        if (_options.ConnectOnly)
        {
            await ConnectAsync(cancellationToken);
            return;
        }
        var image = _options.Image!;
        // The name the user gave (else the image) starts the name sent; a server that renames it is still found by the note.
        var requested = OwnedDeployments.NewName(_options.ContainerName ?? image);
        var request = new CreateDeploymentRequest
        {
            InstanceName = requested,
            Image = image,
            Replicas = _options.Replicas,
            Port = HostEnvironment.DefaultPort,
            Env = Env(),
            Resources = _cpu is null && _memory is null ? null : new DeploymentResources(_cpu?.ToMillicoreString(), _memory?.ToKubernetesString()),
            TtlSeconds = TtlSeconds,
            Public = true,
            HealthCheck = new DeploymentHealthCheck(
                Liveness: new DeploymentProbe(WireRoutes.Health, InitialDelaySeconds: 10, PeriodSeconds: 10, TimeoutSeconds: 5, FailureThreshold: 6),
                // Kubernetes probes carry no token: with one, only /health is open (the client then waits on /ready itself).
                Readiness: new DeploymentProbe(_options.AuthToken is null ? WireRoutes.Ready : WireRoutes.Health,
                    InitialDelaySeconds: 1, PeriodSeconds: 2, TimeoutSeconds: 3, FailureThreshold: 3)),
        };
        // A deployment to be deleted names this process: if it is killed, the next Basilica job of this user deletes it.
        var noted = new OwnedDeployment(requested, requested, image, _api.Root.ToString(), DateTimeOffset.UtcNow, request.TtlSeconds, _options.ContainerName,
            _options.Cleanup ? ProcessOwner.Current : null);
        _owned.Note(noted);
        Log.DeploymentCreating(_logger, requested, image, request.Replicas, request.TtlSeconds);
        Deployment created;
        try
        {
            // Sent without the caller's token: a create abandoned mid-flight may still happen, so its answer is awaited (bounded) to delete it.
            created = await Settled.WaitAsync(_api.CreateAsync(request, CancellationToken.None), cancellationToken);
        }
        catch (BasilicaApiException)
        {
            _owned.Forget(requested); // Basilica answered with an error: it created nothing
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // It may exist anyway (an answer lost on the way, or still in flight): removed by the name sent.
            await ReleaseAsync(requested);
            throw;
        }
        lock (_gate)
        {
            _instanceName = created.InstanceName;
        }
        _owned.Note(noted with { InstanceName = created.InstanceName }, replaces: requested);
        if (created.InstanceName != requested)
        {
            // The server named it itself; the name sent may still exist too if it was created earlier under it.
            Log.DeploymentRenamed(_logger, requested, created.InstanceName);
        }
        var clock = Stopwatch.StartNew();
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            _deployment = await new DeploymentReadiness(_api, _options.Basilica, _options.ReadyTimeout, _options.MinReadyReplicas, _logger).WaitAsync(created, cancellationToken);
            if (!Uri.TryCreate(_deployment.Url, UriKind.Absolute, out _))
            {
                throw new DeploymentNotReadyException(_deployment, $"is ready but has no URL ('{_deployment.Url}')");
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var events = await RecentEventsAsync(created.InstanceName);
            await ReleaseAsync(created.InstanceName);
            lock (_gate)
            {
                _instanceName = null; // released: disposing has nothing left to delete
            }
            cancellationToken.ThrowIfCancellationRequested();
            if (e is DeploymentNotReadyException notReady)
            {
                throw new BasilicaDeploymentException(created.InstanceName, notReady.Last.Phase, notReady.Last.Message, events, notReady.Message);
            }
            throw;
        }
        Log.DeploymentReady(_logger, created.InstanceName, _deployment.Url!, clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>Connect-only: the running deployment of that name (the one its environment was given, or Basilica's), never deleted from here.</summary>
    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        using var deployments = new BasilicaDeployments(_options.Basilica, _logger);
        var found = await deployments.FindAsync(_options.ContainerName!, cancellationToken);
        if (found.Url is not { } url || !Uri.TryCreate(url, UriKind.Absolute, out _))
        {
            throw new EnvironmentUnavailableException($"basilica deployment {found.InstanceName} has no URL yet (state {found.State ?? "?"}, phase {found.Phase ?? "?"}); wait until it is ready");
        }
        if (found.State is { } state && !state.Equals("Active", StringComparison.OrdinalIgnoreCase))
        {
            throw new EnvironmentUnavailableException($"basilica deployment {found.InstanceName} is {state} (phase {found.Phase ?? "?"}{(string.IsNullOrEmpty(found.Message) ? "" : ": " + found.Message)})");
        }
        lock (_gate)
        {
            _instanceName = found.InstanceName;
        }
        _deployment = new Deployment { InstanceName = found.InstanceName, State = found.State, Url = url, Phase = found.Phase, Message = found.Message };
    }

    private Dictionary<string, string> Env()
    {
        var env = new Dictionary<string, string>(_options.EnvVars, StringComparer.Ordinal);
        if (_options.AuthToken is { } token)
        {
            // Only the token's hash enters the pod, as in Docker mode: the host verifies with it, the actor never sees the token.
            env[HostEnvironment.AuthTokenSha256] = HostEnvironment.HashAuthToken(token);
        }
        if (_options.MaxResultBytes > ResultLimits.DefaultMaxBytes)
        {
            env[HostEnvironment.MaxResultBytes] = _options.MaxResultBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (_gateway is not null)
        {
            // The gateway's public URL and this deployment's own token, never the upstream's key.
            foreach (var (name, value) in _gateway.RemoteVariables())
            {
                env[name] = value;
            }
        }
        return env;
    }

    private async Task<IReadOnlyList<string>> RecentEventsAsync(string instanceName)
    {
        try
        {
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            return await _api.RecentEventsAsync(instanceName, 10, bounded.Token);
        }
        catch (Exception e) when (e is AffinetesException or OperationCanceledException or System.Text.Json.JsonException)
        {
            return [];
        }
    }

    public Task<ReplicaEndpoint> StartReplicaAsync(int index, CancellationToken cancellationToken)
    {
        var deployment = _deployment ?? throw new InvalidOperationException("the deployment is not ready");
        var url = deployment.Url!.EndsWith('/') ? deployment.Url : deployment.Url + "/";
        return Task.FromResult(new ReplicaEndpoint($"{deployment.InstanceName}/{index}", new Uri(url), $"{deployment.InstanceName} (basilica, slot {index})"));
    }

    /// <summary>
    /// Whether Basilica still runs the deployment; asked at most every 5 s (the API is rate limited). A deployment
    /// failed or gone is <see cref="Lost"/>, with its recent events.
    /// </summary>
    public async Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaEndpoint replica, CancellationToken cancellationToken)
    {
        var name = _instanceName;
        if (name is null)
        {
            return null;
        }
        lock (_gate)
        {
            if (DateTime.UtcNow - _diagnosis.At < DiagnoseEvery)
            {
                return _diagnosis.Verdict;
            }
            _diagnosis = (DateTime.UtcNow, _diagnosis.Verdict);
        }
        EnvironmentUnavailableException? verdict;
        Deployment? last = null;
        try
        {
            last = await _api.GetAsync(name, cancellationToken);
            verdict = last.IsFailed || last.IsGone
                ? new EnvironmentUnavailableException($"basilica deployment {name} is {last.State} (phase {last.Phase ?? "unknown"})", reason: last.Message)
                : null;
        }
        catch (BasilicaApiException e) when (e.StatusCode == 404)
        {
            verdict = new EnvironmentUnavailableException($"basilica deployment {name} is gone (deleted, or its TTL of {TtlSeconds} s passed)");
        }
        catch (Exception e) when (e is AffinetesException or System.Text.Json.JsonException)
        {
            verdict = null; // the API does not answer now: that says nothing about the pods
        }
        lock (_gate)
        {
            _diagnosis = (DateTime.UtcNow, verdict);
        }
        if (verdict is not null && !_lost.Task.IsCompleted)
        {
            var events = await RecentEventsAsync(name);
            var what = last is null ? "is gone while it served" : $"is {last.State} while it served";
            Log.DeploymentLost(_logger, name, verdict.Message);
            _lost.TrySetResult(new BasilicaDeploymentException(name, last?.Phase ?? "gone", last?.Message ?? verdict.Message, events, what));
        }
        return verdict;
    }

    /// <summary>Pods are not removed one by one (Kubernetes restarts them); the deployment goes when the environment is released.</summary>
    public Task RemoveReplicaAsync(ReplicaEndpoint replica, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The deployment's log lines (all pods), through slot 0 only so that they are read once.</summary>
    public IAsyncEnumerable<string> ReadLogsAsync(ReplicaEndpoint replica, bool follow, CancellationToken cancellationToken) =>
        _instanceName is { } name && replica.Id == $"{name}/0" ? _api.LogsAsync(name, follow, null, cancellationToken) : AsyncEnumerable.Empty<string>();

    /// <summary>Deletes the deployment (retrying transient failures until it is gone or 404) and forgets the note; never throws.</summary>
    private async Task ReleaseAsync(string instanceName)
    {
        try
        {
            using var bounded = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var deleted = await _api.DeleteAsync(instanceName, bounded.Token);
            _owned.Forget(instanceName);
            Log.DeploymentDeleted(_logger, instanceName, deleted ? "deleted" : "was gone already");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.DeploymentDeleteFailed(_logger, instanceName, e.Message, DateTimeOffset.UtcNow.AddSeconds(TtlSeconds).ToString("u", System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// Deletes the deployment when the environment removes what it starts (never one it only connected to); once,
    /// however many callers dispose at once.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        Task release;
        lock (_gate)
        {
            release = _released ??= _options.Cleanup && !_options.ConnectOnly && _instanceName is { } name ? ReleaseAsync(name) : Task.CompletedTask;
        }
        await release;
        _api.Dispose();
    }
}
