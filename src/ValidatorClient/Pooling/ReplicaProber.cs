using System.Net;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>What one health probe of a replica found.</summary>
/// <param name="Answered">The replica answered as a live host does.</param>
/// <param name="Failure">Why it did not, in words for the health reason (status code, transport error, timeout).</param>
/// <param name="CannotServe">The host's own reason when it said it cannot serve its actor (<c>/ready</c> 503 <c>failed</c>).</param>
internal readonly record struct ProbeResult(bool Answered, string? Failure = null, string? CannotServe = null);

/// <summary>Asks one replica whether it is alive (YARP's probing-request factory is the seam this copies: tests swap it).</summary>
internal interface IReplicaProber
{
    /// <summary>One probe, bounded by the prober's own timeout; throws only when <paramref name="cancellationToken"/> is cancelled.</summary>
    Task<ProbeResult> ProbeAsync(ReplicaEndpoint replica, CancellationToken cancellationToken);
}

/// <summary>
/// Probes a replica's <c>/ready</c> (which also renews its lease) within <paramref name="timeout"/> on
/// <paramref name="time"/>'s clock. 200, and 404 from a server of the original that has no <c>/ready</c>, are answers.
/// </summary>
internal sealed class ReadyProber(HttpClient http, TimeSpan timeout, TimeProvider time) : IReplicaProber
{
    public async Task<ProbeResult> ProbeAsync(ReplicaEndpoint replica, CancellationToken cancellationToken)
    {
        using var bounded = new CancellationTokenSource(timeout, time);
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, bounded.Token);
        try
        {
            using var response = await http.GetAsync(new Uri(replica.BaseUrl, WireRoutes.Ready), probe.Token);
            if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NotFound)
            {
                return new ProbeResult(Answered: true);
            }
            var body = await response.Content.ReadAsByteArrayAsync(probe.Token);
            return new ProbeResult(Answered: false, $"{(int)response.StatusCode}", WireAnswer.StartupFailure(body));
        }
        catch (HttpRequestException e)
        {
            return new ProbeResult(Answered: false, e.Message);
        }
        catch (OperationCanceledException) when (bounded.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(Answered: false, $"no answer within {timeout.TotalSeconds:0.###} s");
        }
    }
}
