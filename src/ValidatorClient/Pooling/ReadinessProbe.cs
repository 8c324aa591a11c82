using System.Net;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>
/// Waits, bounded, until a replica answers <c>/ready</c>: one long-polling request (<c>/ready?wait=</c>, answered by
/// hosts of ours the moment the actor is ready or failed) repeated on a resilience pipeline (an outer timeout, a retry
/// every 25 ms while the host is not listening yet, and servers of the Python original asked on <c>/health</c>).
/// Fails fast with the host's own reason when the actor cannot start, with the exit code and log tail when the
/// backend finds the replica dead, and at once on a missing or wrong token (waiting does not fix those).
/// </summary>
internal static class ReadinessProbe
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan DiagnoseEvery = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan LongPoll = TimeSpan.FromSeconds(1);

    public static async Task WaitAsync(HttpClient http, ReplicaEndpoint replica, TimeSpan limit,
        Func<CancellationToken, Task<EnvironmentUnavailableException?>> diagnose, TimeProvider time, CancellationToken cancellationToken)
    {
        var attempt = new Attempt(http, replica, diagnose, time);
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddTimeout(new TimeoutStrategyOptions { Timeout = limit })
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<NotReadyYetException>(),
                MaxRetryAttempts = int.MaxValue,
                Delay = Poll,
                BackoffType = DelayBackoffType.Constant,
                UseJitter = false,
            })
            .Build();
        try
        {
            await pipeline.ExecuteAsync(static (a, ct) => a.ProbeAsync(ct), attempt, cancellationToken);
        }
        catch (TimeoutRejectedException)
        {
            throw new EnvironmentUnavailableException(
                $"{replica.Description} did not become ready within {limit.TotalSeconds:0.###} s (last answer: {attempt.LastAnswer ?? "none"})");
        }
    }

    /// <summary>The replica is not ready yet; the pipeline asks again.</summary>
    private sealed class NotReadyYetException : Exception;

    private sealed class Attempt(HttpClient http, ReplicaEndpoint replica, Func<CancellationToken, Task<EnvironmentUnavailableException?>> diagnose, TimeProvider time)
    {
        private readonly Uri _ready = new(replica.BaseUrl, WireRoutes.ReadyWaiting(LongPoll));
        private long _lastDiagnosis = time.GetTimestamp();
        private Uri? _probe;

        public string? LastAnswer { get; private set; }

        public async ValueTask ProbeAsync(CancellationToken cancellationToken)
        {
            var probe = _probe ??= _ready;
            try
            {
                using var response = await http.GetAsync(probe, cancellationToken);
                switch (response.StatusCode)
                {
                    case HttpStatusCode.OK:
                        return;
                    case HttpStatusCode.NotFound when probe == _ready:
                        // A server of the Python original has no /ready: its /health is the best it offers.
                        _probe = new Uri(replica.BaseUrl, WireRoutes.Health);
                        break;
                    case HttpStatusCode.Unauthorized:
                        throw new EnvironmentAuthenticationException(replica.Description, http.DefaultRequestHeaders.Authorization is not null);
                    default:
                        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                        LastAnswer = $"{(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}";
                        if (response.StatusCode == HttpStatusCode.ServiceUnavailable && WireAnswer.StartupFailure(body) is { } reason)
                        {
                            throw new EnvironmentUnavailableException($"{replica.Description} cannot serve its actor", reason: reason);
                        }
                        break;
                }
            }
            catch (HttpRequestException e)
            {
                LastAnswer = e.Message; // not listening yet
            }
            if (time.GetElapsedTime(_lastDiagnosis) >= DiagnoseEvery)
            {
                _lastDiagnosis = time.GetTimestamp();
                if (await diagnose(cancellationToken) is { } dead)
                {
                    throw dead;
                }
            }
            throw new NotReadyYetException();
        }
    }
}
