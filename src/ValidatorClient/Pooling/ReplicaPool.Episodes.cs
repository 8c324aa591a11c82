using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>
/// What the pool offers episodes (whose state lives in the memory of the replica that opened them): the replica for a
/// new one, chosen by open episodes, and their count per replica. Their calls go through <see cref="CallReplicaAsync"/>.
/// </summary>
internal sealed partial class ReplicaPool
{
    private readonly FewestEpisodesPolicy _episodePolicy = new();

    /// <summary>Open episodes per live replica, in replica order.</summary>
    public IReadOnlyList<(ReplicaEndpoint Replica, int OpenEpisodes)> OpenEpisodes =>
        [.. _replicas.Monitored.Select(r => (r.Endpoint, r.OpenEpisodes))];

    /// <summary>Open episodes on every live replica, for telemetry.</summary>
    public int OpenEpisodeCount => _replicas.Monitored.Sum(r => r.OpenEpisodes);

    /// <summary>
    /// The replica for a new episode, counted open on it until <see cref="ReleaseEpisode"/>: of those that take calls
    /// (else of those merely failing), the one with the fewest open episodes that is not in <paramref name="avoid"/>
    /// (where a reset just failed). While none takes calls it waits, like a call, within the ready timeout for the set
    /// to change. Throws <see cref="EnvironmentUnavailableException"/> when none comes, or every one was avoided.
    /// </summary>
    public async Task<ReplicaEndpoint> ReserveEpisodeAsync(IReadOnlyCollection<ReplicaEndpoint> avoid, CancellationToken cancellationToken)
    {
        long waitingSince = 0;
        while (true)
        {
            var (failing, changed) = _replicas.FailingAndNextChange();
            var taking = _replicas.TakingCalls;
            var candidates = taking.Length > 0 ? taking : failing;
            var preferred = avoid.Count == 0 ? candidates : [.. candidates.Where(r => !avoid.Contains(r.Endpoint))];
            if (preferred.Length > 0)
            {
                var replica = _episodePolicy.Pick(preferred);
                replica.AddOpenEpisodes(1);
                return replica.Endpoint;
            }
            if (candidates.Length > 0)
            {
                throw new EnvironmentUnavailableException($"no replica of {EnvironmentName} could open an episode (each of the {avoid.Count} tried failed)");
            }
            if (waitingSince == 0)
            {
                waitingSince = _time.GetTimestamp();
            }
            var left = _readyTimeout - _time.GetElapsedTime(waitingSince);
            if (IsDisposed || _replicas.IsDisposed || left <= TimeSpan.Zero)
            {
                throw new EnvironmentUnavailableException($"no replica of {EnvironmentName} takes calls");
            }
            try
            {
                await changed.WaitAsync(left, _time, cancellationToken);
            }
            catch (TimeoutException)
            {
            }
        }
    }

    /// <summary>An episode reserved on <paramref name="replica"/> ended (or never opened); nothing once the replica is gone.</summary>
    public void ReleaseEpisode(ReplicaEndpoint replica) => _replicas.Find(replica)?.AddOpenEpisodes(-1);
}
