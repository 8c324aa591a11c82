using System.Net;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>
/// Waits, bounded, for a replica's <c>/ready</c>: fails fast with the host's own reason when the actor cannot
/// start, and with the exit code and log tail when the diagnosis finds the replica dead. The auth token
/// is sent as the bearer token: a host started with one answers <c>/ready</c> only with it.
/// </summary>
public static class ReadinessProbe
{
    public static async Task WaitAsync(HttpClient http, Uri baseUrl, TimeSpan limit, Func<CancellationToken, Task<EnvironmentUnavailableException?>> diagnose,
        string description, CancellationToken cancellationToken)
    {
        // The client's HttpClient carries the environment's token (if any) on every request, this probe included.
        var hasToken = http.DefaultRequestHeaders.Authorization is not null;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        // Hosts of ours answer /ready?wait the moment the actor is ready or failed: one request instead of polling.
        // Until the host listens (and with servers that answer at once) this is a poll every 25 ms; a wait is kept
        // short so that the backend is still asked (a Docker inspect, every quarter second at most) whether it died.
        var ready = new Uri(baseUrl, WireRoutes.ReadyWaiting(TimeSpan.FromSeconds(1)));
        var probe = ready;
        var poll = TimeSpan.FromMilliseconds(25);
        var diagnoseEvery = TimeSpan.FromMilliseconds(250);
        var lastDiagnosis = System.Diagnostics.Stopwatch.StartNew();
        string? lastState = null;
        try
        {
            while (true)
            {
                try
                {
                    using var response = await http.GetAsync(probe, deadline.Token);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        return;
                    }
                    if (response.StatusCode == HttpStatusCode.NotFound && probe == ready)
                    {
                        // A server of the Python original has no /ready: its /health is the best it offers.
                        probe = new Uri(baseUrl, WireRoutes.Health);
                        continue;
                    }
                    if (response.StatusCode == HttpStatusCode.Unauthorized)
                    {
                        // Waiting does not fix a missing or wrong token.
                        throw new EnvironmentOptionsException(!hasToken
                            ? $"{description} requires an auth token; set AuthToken to the token it was started with"
                            : $"{description} rejected the auth token; set AuthToken to the token it was started with");
                    }
                    var body = await response.Content.ReadAsStringAsync(deadline.Token);
                    lastState = $"{(int)response.StatusCode} {body}";
                    if (response.StatusCode == HttpStatusCode.ServiceUnavailable && TryReadFailure(body) is { } reason)
                    {
                        throw new EnvironmentUnavailableException($"{description} cannot serve its actor", reason: reason);
                    }
                }
                catch (HttpRequestException e)
                {
                    lastState = e.Message;
                }
                if (lastDiagnosis.Elapsed >= diagnoseEvery)
                {
                    if (await diagnose(deadline.Token) is { } dead)
                    {
                        throw dead;
                    }
                    lastDiagnosis.Restart();
                }
                await Task.Delay(poll, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new EnvironmentUnavailableException($"{description} did not become ready within {limit.TotalSeconds:0} s (last answer: {lastState ?? "none"})");
        }
    }

    private static string? TryReadFailure(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("status", out var status) && status.GetString() == "failed"
                && doc.RootElement.TryGetProperty("reason", out var reason) ? reason.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
