namespace Affinetes.ValidatorClient.Environments;

/// <summary>One replica's address, as the backend that provisioned it gives it.</summary>
/// <param name="Id">Stable identity (container id, URL, deployment name).</param>
/// <param name="BaseUrl">Where the host answers, always reached as given (127.0.0.1 published ports for Docker).</param>
/// <param name="Description">For people: the container name and engine, or the URL.</param>
public sealed record ReplicaEndpoint(string Id, Uri BaseUrl, string Description)
{
    /// <summary>The unix socket its host is reached through (a container without network); null when it is reached over TCP at <see cref="BaseUrl"/>.</summary>
    public string? UnixSocket => UnixSocketEndpoints.TryGetSocket(BaseUrl.Host, out var path) ? path : null;
}

/// <summary>Counters of one replica, as <see cref="IEnvironment.GetStats"/> reports them.</summary>
/// <param name="Id">The replica's identity (container id, URL).</param>
/// <param name="Description">The container name and engine, or the URL.</param>
/// <param name="Healthy">Whether it takes calls now.</param>
/// <param name="Requests">Calls sent to it.</param>
/// <param name="Failures">Calls on it that returned no result (the actor raised, bad arguments, transport, deadline).</param>
/// <param name="InFlight">Calls on it now.</param>
/// <param name="AverageLatencyMs">Mean duration of its finished calls.</param>
/// <param name="MaxLatencyMs">Longest duration of its finished calls.</param>
/// <param name="State">Its health: <c>healthy</c>, <c>failing</c> (too many recent failures) or <c>unresponsive</c> (missed its probes).</param>
public sealed record ReplicaStats(string Id, string Description, bool Healthy, long Requests, long Failures, int InFlight, double AverageLatencyMs, double MaxLatencyMs, string State = "healthy");

