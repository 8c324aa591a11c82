using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>
/// What the <see cref="ReplicaHealthMonitor"/> sees of the replicas and may do to them: which to probe, say that one's
/// health changed, ask the backend why one stopped answering, and have one replaced. The <see cref="ReplicaSet"/>
/// implements it; the monitor's tests fake it.
/// </summary>
internal interface IMonitoredReplicas
{
    /// <summary>The replicas to probe now: those in the set and not given up.</summary>
    IReadOnlyList<Replica> Monitored { get; }

    /// <summary>Whether a replica given up can be replaced; when false it stays, skipped until it answers again.</summary>
    bool CanReplace { get; }

    /// <summary>A replica's health changed: it leaves, or comes back to, the replicas that take calls.</summary>
    void HealthChanged(Replica replica);

    /// <summary>Why a replica stopped answering (its container exited ...); null when it looks alive.</summary>
    Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaEndpoint replica, CancellationToken cancellationToken);

    /// <summary>
    /// Gives <paramref name="replica"/> up (its calls in flight fail over) and replaces it in the background; nothing
    /// where <see cref="CanReplace"/> is false, or once it was given up already.
    /// </summary>
    void Replace(Replica replica, string reason);
}
