using System.Collections.Concurrent;
using System.Text.Json;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Pooling;

namespace Affinetes.ValidatorClient.Episodes;

/// <summary>
/// One episode's hold on its replica: calls for that replica alone, whether the pool has given it up, and (when
/// disposed) the open-episode count taken back, with the one-replica environment it owns when episodes get a fresh
/// deployment each.
/// </summary>
internal sealed class EpisodeLease(ReplicaPool pool, ReplicaEndpoint replica, RemovedReplicas removed, IAsyncDisposable? owned = null) : IAsyncDisposable
{
    private int _released;

    public ReplicaEndpoint Replica => replica;

    /// <summary>Why the pool gave the replica up, once it did; null while it serves.</summary>
    public string? RemovedReason => removed.ReasonFor(replica);

    /// <summary>Calls <paramref name="method"/> on the replica alone (see <see cref="ReplicaPool.CallReplicaAsync"/>).</summary>
    public Task<JsonElement> CallAsync(string method, IReadOnlyDictionary<string, object?> kwargs, TimeSpan? timeout, CancellationToken cancellationToken) =>
        pool.CallReplicaAsync(replica, method, WireValues.CallBody(method, null, kwargs), timeout, cancellationToken);

    /// <summary>The same lease, owning <paramref name="environment"/> (released with it).</summary>
    public EpisodeLease Owning(IAsyncDisposable environment) => new(pool, replica, removed, environment);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }
        pool.ReleaseEpisode(replica);
        if (owned is not null)
        {
            await owned.DisposeAsync();
        }
    }
}

/// <summary>The replicas a pool gave up while it lived, with the reason, as its <see cref="ReplicaPool.ReplicaRemoved"/> said.</summary>
internal sealed class RemovedReplicas
{
    private readonly ConcurrentDictionary<ReplicaEndpoint, string> _reasons = new();

    public RemovedReplicas(ReplicaPool pool) => pool.ReplicaRemoved += (replica, reason) => _reasons[replica] = reason;

    public string? ReasonFor(ReplicaEndpoint replica) => _reasons.TryGetValue(replica, out var reason) ? reason : null;
}
