using System.Diagnostics;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Affinetes.ValidatorClient.Backends.Basilica;

/// <summary>
/// Replicas as ONE Basilica deployment with <see cref="EnvironmentOptions.Replicas"/> pods behind its URL, created
/// once per load and reused by every call (Basilica's ingress spreads calls over the pods; the pool's slots all
/// reach that URL, so a call whose pod fails is sent again through it). Created with a TTL, noted as ours before it
/// is asked for, polled with back-off until Basilica says it is ready, and deleted (retried until gone) when the
/// environment is released or its start fails or is cancelled. Pods cannot be replaced from here: Kubernetes
/// restarts them.
/// </summary>
internal sealed class BasilicaBackend : IBackend
{
    /// <summary>The deadline assumed for calls when none is configured (the validators' <c>_timeout=360</c>).</summary>
    internal static readonly TimeSpan AssumedCallDeadline = TimeSpan.FromSeconds(360);

    private static readonly TimeSpan LongestPoll = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DiagnoseEvery = TimeSpan.FromSeconds(5);

    private readonly EnvironmentOptions _options;
    private readonly CpuQuantity? _cpu;
    private readonly MemoryQuantity? _memory;
    private readonly ILogger _logger;
    private readonly TimeSpan? _callDeadline;
    private readonly bool _perCall;
    private readonly BasilicaApi _api;
    private readonly OwnedDeployments _owned;
    private readonly Lock _gate = new();
    private Deployment? _deployment;
    private string? _instanceName;
    private Task? _released;
    private (DateTime At, EnvironmentUnavailableException? Verdict) _diagnosis;

    /// <param name="options">The environment's options (mode basilica).</param>
    /// <param name="cpu">Parsed CPU limit.</param>
    /// <param name="memory">Parsed memory limit.</param>
    /// <param name="logger">Where phases and deletes are logged.</param>
    /// <param name="callDeadline">The one call this deployment serves (fresh deployment per call), for its TTL.</param>
    /// <param name="perCall">The environment deploys per call: this backend provides no replicas, it only checks the key.</param>
    public BasilicaBackend(EnvironmentOptions options, CpuQuantity? cpu, MemoryQuantity? memory, ILogger logger, TimeSpan? callDeadline = null, bool perCall = false)
    {
        _options = options;
        _cpu = cpu;
        _memory = memory;
        _logger = logger;
        _callDeadline = callDeadline;
        _perCall = perCall;
        _api = new BasilicaApi(options.Basilica, logger);
        _owned = new OwnedDeployments(options.Basilica.ResolvedStateDirectory);
    }

    public string Name => "basilica";

    public int ReplicaCount => _perCall ? 0 : _options.Replicas;

    public bool CanReplace => false;

    /// <summary>The name Basilica gave the deployment, once created.</summary>
    public string? InstanceName => _instanceName;

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
        var noted = new OwnedDeployment(requested, requested, image, _api.Root.ToString(), DateTimeOffset.UtcNow, request.TtlSeconds, _options.ContainerName);
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
            _deployment = await WaitUntilReadyAsync(created, cancellationToken);
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
        return env;
    }

    /// <summary>Polls the deployment (back-off from the poll interval to 10 s, starting over at each change) until ready, failed, or the ready timeout.</summary>
    private async Task<Deployment> WaitUntilReadyAsync(Deployment created, CancellationToken cancellationToken)
    {
        var poll = new Poll(this, created);
        var pipeline = new ResiliencePipelineBuilder<Deployment>()
            .AddTimeout(new TimeoutStrategyOptions { Timeout = _options.ReadyTimeout })
            .AddRetry(new RetryStrategyOptions<Deployment>
            {
                ShouldHandle = new PredicateBuilder<Deployment>().Handle<NotReadyYetException>(),
                MaxRetryAttempts = int.MaxValue,
                DelayGenerator = _ => ValueTask.FromResult<TimeSpan?>(poll.NextDelay()),
            })
            .Build();
        poll.Observe(created);
        if (created.IsReady)
        {
            return created;
        }
        try
        {
            return await pipeline.ExecuteAsync(static (p, ct) => p.CheckAsync(ct), poll, cancellationToken);
        }
        catch (TimeoutRejectedException)
        {
            throw new DeploymentNotReadyException(poll.Last, $"did not become ready within {_options.ReadyTimeout.TotalSeconds:0.###} s");
        }
    }

    /// <summary>One status poll: logs and reports each change; ready returns, failed throws, anything else polls again.</summary>
    private sealed class Poll(BasilicaBackend backend, Deployment first)
    {
        private string? _seen;
        private int _sinceChange;

        public Deployment Last { get; private set; } = first;

        public TimeSpan NextDelay()
        {
            var delay = backend._options.Basilica.StatusPollInterval * Math.Pow(2, Math.Min(_sinceChange++, 10));
            return delay < LongestPoll ? delay : LongestPoll;
        }

        public void Observe(Deployment deployment)
        {
            Last = deployment;
            var status = deployment.ToStatus();
            var key = $"{status.State}/{status.Phase}/{status.ReadyReplicas}/{status.Progress}/{status.Message}";
            if (key == _seen)
            {
                return;
            }
            _seen = key;
            _sinceChange = 0;
            Log.DeploymentStatus(backend._logger, status.InstanceName, status.State, status.Phase ?? "-", status.ReadyReplicas, status.DesiredReplicas,
                status.Progress is { } p ? $" {p:0.#}%" : "", string.IsNullOrEmpty(status.Message) ? "" : ": " + status.Message);
            backend._options.Basilica.Progress?.Report(status);
        }

        public async ValueTask<Deployment> CheckAsync(CancellationToken cancellationToken)
        {
            var deployment = await backend._api.GetAsync(Last.InstanceName, cancellationToken);
            Observe(deployment);
            if (deployment.IsFailed)
            {
                throw new DeploymentNotReadyException(deployment, "failed");
            }
            if (deployment.IsGone)
            {
                throw new DeploymentNotReadyException(deployment, $"is {deployment.State} before it was ready");
            }
            return deployment.IsReady ? deployment : throw new NotReadyYetException();
        }
    }

    private sealed class NotReadyYetException : Exception;

    /// <summary>Basilica says the deployment will not be ready (failed, gone, or too slow).</summary>
    private sealed class DeploymentNotReadyException(Deployment last, string what) : Exception(what)
    {
        public Deployment Last { get; } = last;
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

    /// <summary>Whether Basilica still runs the deployment; asked at most every 5 s (the API is rate limited).</summary>
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
        try
        {
            var deployment = await _api.GetAsync(name, cancellationToken);
            verdict = deployment.IsFailed || deployment.IsGone
                ? new EnvironmentUnavailableException($"basilica deployment {name} is {deployment.State} (phase {deployment.Phase ?? "unknown"})", reason: deployment.Message)
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
        return verdict;
    }

    /// <summary>Pods are not removed one by one (Kubernetes restarts them); the deployment goes when the environment is released.</summary>
    public Task RemoveReplicaAsync(ReplicaEndpoint replica, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The deployment's log lines (all pods), through slot 0 only so that they are read once.</summary>
    public IAsyncEnumerable<string> ReadLogsAsync(ReplicaEndpoint replica, bool follow, CancellationToken cancellationToken) =>
        _instanceName is { } name && replica.Id == $"{name}/0" ? _api.LogsAsync(name, follow, cancellationToken) : AsyncEnumerable.Empty<string>();

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

    /// <summary>Deletes the deployment when the environment removes what it starts; once, however many callers dispose at once.</summary>
    public async ValueTask DisposeAsync()
    {
        Task release;
        lock (_gate)
        {
            release = _released ??= _options.Cleanup && _instanceName is { } name ? ReleaseAsync(name) : Task.CompletedTask;
        }
        await release;
        _api.Dispose();
    }
}
