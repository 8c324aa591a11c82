using System.Text.Json;
using Affinetes.ValidatorClient.Backends;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>
/// The replicas of one environment and the call path over them, composed of three parts on one <see cref="TimeProvider"/>:
/// <list type="bullet">
/// <item><see cref="ReplicaSet"/>: every replica is started through the backend and waited on until ready (bounded); the
/// pool is usable once <see cref="EnvironmentOptions.MinReadyReplicas"/> are, the others join as they become ready; a
/// replica given up is replaced through the backend.</item>
/// <item><see cref="CallPath"/>: a call goes to a replica the balancing policy picks among those that take calls, and is
/// sent again to another when the actor never got it; calls wait (within their deadline) for a replica while none takes calls.</item>
/// <item><see cref="ReplicaHealthMonitor"/>: probes every replica's <c>/ready</c> (which also renews its lease); a replica
/// that misses probes, or whose calls fail too often, is skipped; one that stays unresponsive, or whose container died,
/// is replaced.</item>
/// </list>
/// </summary>
internal sealed partial class ReplicaPool : IAsyncDisposable
{
    private readonly ReplicaSet _replicas;
    private readonly CallPath _calls;
    private readonly ReplicaHealthMonitor _monitor;
    private readonly TimeSpan _readyTimeout;
    private readonly TimeProvider _time;
    private int _disposed;

    /// <summary>A pool over <paramref name="backend"/>'s replicas; <paramref name="time"/> (default the system's) is the clock of
    /// every deadline, probe and wait, and <paramref name="prober"/> (default <c>/ready</c> over <paramref name="http"/>) asks replicas whether they live.</summary>
    public ReplicaPool(string environmentName, IBackend backend, EnvironmentOptions options, HttpClient http, ILogger logger, TimeProvider? time = null,
        IReplicaProber? prober = null)
    {
        time ??= TimeProvider.System;
        _time = time;
        _readyTimeout = options.ReadyTimeout;
        _replicas = new ReplicaSet(environmentName, backend, options, http, logger, time);
        _calls = new CallPath(_replicas, options, http, logger, time);
        _monitor = new ReplicaHealthMonitor(_replicas, prober ?? new ReadyProber(http, options.Health.ProbeTimeout, time),
            options.Health.ProbeInterval, time, logger, environmentName);
        Instruments.Track(this);
    }

    /// <summary>The image (or URLs) this pool serves, for logs and telemetry.</summary>
    public string EnvironmentName => _replicas.EnvironmentName;

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Replicas that take calls now.</summary>
    public int ReadyCount => _replicas.TakingCalls.Length;

    /// <summary>Every live replica, in replica order (those starting are not listed).</summary>
    public IReadOnlyList<ReplicaEndpoint> Endpoints => _replicas.Endpoints;

    /// <summary>Raised when a replica joins the pool (at start, late, or as a replacement).</summary>
    public event Action<ReplicaEndpoint>? ReplicaAdded
    {
        add => _replicas.ReplicaAdded += value;
        remove => _replicas.ReplicaAdded -= value;
    }

    /// <summary>
    /// Raised, with the reason, when a replica leaves the pool while it serves: given up (dead or hung) to be replaced.
    /// Whatever was pinned to it (<see cref="CallReplicaAsync"/>) is lost. <see cref="Endpoints"/> no longer lists it.
    /// </summary>
    public event Action<ReplicaEndpoint, string>? ReplicaRemoved
    {
        add => _replicas.ReplicaRemoved += value;
        remove => _replicas.ReplicaRemoved -= value;
    }

    public IReadOnlyList<ReplicaStats> Stats() => _replicas.Stats();

    /// <summary>
    /// Starts every replica and returns once <see cref="EnvironmentOptions.MinReadyReplicas"/> (default all) are ready;
    /// then the monitor takes over. On failure or cancellation nothing it started is left running, and the first failure is thrown.
    /// </summary>
    public async Task ProvisionAsync(CancellationToken cancellationToken)
    {
        await _replicas.ProvisionAsync(cancellationToken);
        _monitor.Start();
    }

    /// <summary>Sends one call; <paramref name="body"/> is the <c>/call</c> request already serialised.</summary>
    public Task<JsonElement> CallAsync(string method, byte[] body, TimeSpan? timeout, CancellationToken cancellationToken) =>
        _calls.CallAsync(method, body, timeout, cancellationToken);

    /// <summary>
    /// Sends one call to <paramref name="replica"/> (as <see cref="Endpoints"/> or <see cref="ReplicaAdded"/> gave it)
    /// and never to another: the deadline, answer and telemetry of <see cref="CallAsync"/>, without its choice and
    /// failover. Throws <see cref="EnvironmentUnavailableException"/> when that replica is gone, or goes while the call runs.
    /// </summary>
    public Task<JsonElement> CallReplicaAsync(ReplicaEndpoint replica, string method, byte[] body, TimeSpan? timeout, CancellationToken cancellationToken) =>
        _calls.CallReplicaAsync(replica, method, body, timeout, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        // The set stops taking replicas in at once (no late start or replacement joins), while the monitor's round ends.
        var replicas = _replicas.DisposeAsync();
        await _monitor.DisposeAsync();
        await replicas;
    }
}
