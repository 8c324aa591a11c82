using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Backends;

/// <summary>
/// The seam between environments and where they run (Docker, URL, Basilica): prepare, start replica i and give its
/// address, say why one stopped answering, remove one, read its logs, release everything. Readiness, pooling,
/// balancing, health, replacement, retries and deadlines sit above it (<see cref="Pooling.ReplicaPool"/>) and are
/// written once.
/// </summary>
internal interface IBackend : IAsyncDisposable
{
    /// <summary>Short name for messages: <c>docker</c>, <c>url</c>.</summary>
    string Name { get; }

    /// <summary>How many replicas this backend provides (indexes 0 to count - 1).</summary>
    int ReplicaCount { get; }

    /// <summary>
    /// Whether a replica that died or hangs can be replaced by removing it and starting its index again. When false
    /// (servers we did not start), the pool waits for the same replica to answer again.
    /// </summary>
    bool CanReplace { get; }

    /// <summary>What every replica needs first (images on each engine ...). Called once, before any start.</summary>
    Task PrepareAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Starts (or finds) replica <paramref name="index"/> and returns its address; it may not be ready yet. A start
    /// that fails or is cancelled leaves nothing behind.
    /// </summary>
    Task<ReplicaEndpoint> StartReplicaAsync(int index, CancellationToken cancellationToken);

    /// <summary>Why a replica stopped answering (its container exited, with code and log tail); null when it looks alive.</summary>
    Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaEndpoint replica, CancellationToken cancellationToken);

    /// <summary>Stops and removes a replica this backend started; nothing for one it did not start, or one already gone.</summary>
    Task RemoveReplicaAsync(ReplicaEndpoint replica, CancellationToken cancellationToken);

    /// <summary>A replica's log lines, and the new ones until cancelled when <paramref name="follow"/>.</summary>
    IAsyncEnumerable<string> ReadLogsAsync(ReplicaEndpoint replica, bool follow, CancellationToken cancellationToken);
}
