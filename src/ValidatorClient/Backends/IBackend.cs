using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Backends;

/// <summary>One replica's address, as the backend that provisioned it gives it.</summary>
/// <param name="Id">Stable identity (container id, URL, deployment name).</param>
/// <param name="BaseUrl">Where the host answers, always reached as given (127.0.0.1 published ports for Docker).</param>
/// <param name="Description">For people: the container name and engine, or the URL.</param>
public sealed record ReplicaEndpoint(string Id, Uri BaseUrl, string Description);

/// <summary>
/// The seam between environments and where they run (Docker, URL, Basilica): provision replicas and give their
/// addresses, say why one stopped answering, replace it, release everything. Pooling, balancing, retries and
/// deadlines sit above and are written once.
/// </summary>
public interface IBackend : IAsyncDisposable
{
    /// <summary>Short name for messages: <c>docker</c>, <c>url</c>.</summary>
    string Name { get; }

    /// <summary>Starts (or finds) the replicas and returns once each answers <c>/ready</c>.</summary>
    Task<IReadOnlyList<ReplicaEndpoint>> ProvisionAsync(CancellationToken cancellationToken);

    /// <summary>Why a replica stopped answering (its container exited, with code and log tail); null when it looks alive.</summary>
    Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaEndpoint replica, CancellationToken cancellationToken);

    /// <summary>A ready replacement for a dead replica, or null when this backend cannot replace one.</summary>
    Task<ReplicaEndpoint?> ReplaceAsync(ReplicaEndpoint dead, CancellationToken cancellationToken);

    /// <summary>Streams a replica's log lines to <paramref name="sink"/> until cancelled (or the end, unless <paramref name="follow"/>).</summary>
    Task StreamLogsAsync(ReplicaEndpoint replica, Action<string> sink, bool follow, CancellationToken cancellationToken);
}
