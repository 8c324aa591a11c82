using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Affinetes.ValidatorClient.Backends.Basilica;

/// <summary>
/// Waits until Basilica says a deployment is ready (or <c>MinReadyReplicas</c> of its replicas are), failed, or the
/// ready timeout passed. Its status is polled with back-off (from <see cref="BasilicaOptions.StatusPollInterval"/>,
/// each wait half as long again as the one before, up to 10 s, starting over at each change: a wait is then about half
/// the time since the last change, so a phase that lasts as long as the one before it is still seen and reported,
/// which doubling waits could skip). From the moment it has a URL (Basilica's create answer carries it), its
/// <c>/health</c> is also asked there directly, every 100 ms for 5 s, then every 500 ms (not an API request:
/// Basilica's rate limit does not count it). The moment a pod answers through the deployment's ingress, the status is
/// polled at once, then every 250 ms until enough replicas are ready (the others are most likely a moment behind).
/// </summary>
internal sealed class DeploymentReadiness(BasilicaApi api, BasilicaOptions options, TimeSpan readyTimeout, int? minReady, ILogger logger)
{
    /// <summary>How often the status is polled once a pod answered, until enough replicas are ready.</summary>
    private static readonly TimeSpan AnsweredPoll = TimeSpan.FromMilliseconds(250);

    private static readonly TimeSpan LongestPoll = TimeSpan.FromSeconds(10);
    // The deployment's own URL is asked often while a pod may be about to answer (a quick start), then less often
    // (an image still pulling): an ingress answering 503 costs little, but not nothing.
    private static readonly TimeSpan DirectProbe = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan SlowDirectProbe = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan QuickStart = TimeSpan.FromSeconds(5);

    private readonly BasilicaApi _api = api;
    private readonly BasilicaOptions _options = options;
    private readonly int? _minReady = minReady;
    private readonly ILogger _logger = logger;

    /// <summary>The deployment once ready; throws <see cref="DeploymentNotReadyException"/> when it failed, went, or took too long.</summary>
    public async Task<Deployment> WaitAsync(Deployment created, CancellationToken cancellationToken)
    {
        var poll = new Poll(this, created);
        poll.Observe(created);
        if (created.IsReady)
        {
            return created;
        }
        using var probing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var direct = ProbeDirectlyAsync(poll, probing.Token);
        var pipeline = new ResiliencePipelineBuilder<Deployment>()
            .AddTimeout(new TimeoutStrategyOptions { Timeout = readyTimeout })
            .AddRetry(new RetryStrategyOptions<Deployment>
            {
                ShouldHandle = new PredicateBuilder<Deployment>().Handle<NotReadyYetException>(),
                MaxRetryAttempts = int.MaxValue,
                DelayGenerator = _ => ValueTask.FromResult<TimeSpan?>(TimeSpan.Zero),
            })
            .Build();
        try
        {
            return await pipeline.ExecuteAsync(static async (p, ct) =>
            {
                await p.NextAsync(ct);
                return await p.CheckAsync(ct);
            }, poll, cancellationToken);
        }
        catch (TimeoutRejectedException)
        {
            throw new DeploymentNotReadyException(poll.Last, $"did not become ready within {readyTimeout.TotalSeconds:0.###} s");
        }
        finally
        {
            await probing.CancelAsync();
            await direct;
        }
    }

    /// <summary>Asks the deployment's own URL while it starts; a pod that answers wakes the status poll.</summary>
    private static async Task ProbeDirectlyAsync(Poll poll, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2), UseProxy = false }) { Timeout = TimeSpan.FromSeconds(2) };
        var since = Stopwatch.StartNew();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(since.Elapsed < QuickStart ? DirectProbe : SlowDirectProbe, cancellationToken);
                if (poll.Last is not { Url: { Length: > 0 } url } || !Uri.TryCreate(url, UriKind.Absolute, out var root))
                {
                    continue;
                }
                try
                {
                    using var answer = await http.GetAsync(new Uri(root, WireRoutes.Health.TrimStart('/')), cancellationToken);
                    if (answer.IsSuccessStatusCode && await IsHostHealthAsync(answer, cancellationToken))
                    {
                        poll.Answered = true;
                        poll.Wake();
                        return;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    // Not routed yet (DNS, ingress): the status poll goes on as it would.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The answer is an ActorHost's health (<see cref="HealthResponse"/>, ok), not some page the address shows before a pod serves there.</summary>
    private static async Task<bool> IsHostHealthAsync(HttpResponseMessage answer, CancellationToken cancellationToken)
    {
        try
        {
            return (await answer.Content.ReadFromJsonAsync(ProtocolJson.Wire.HealthResponse, cancellationToken))?.Status == "ok";
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>One deployment's status polls: logs and reports each change; ready returns, failed throws, anything else polls again.</summary>
    private sealed class Poll(DeploymentReadiness owner, Deployment first)
    {
        private readonly Lock _gate = new();
        private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private string? _seen;
        private int _sinceChange;

        public Deployment Last { get; private set; } = first;

        /// <summary>A pod answered through the deployment's own URL: the others are polled for at a short interval.</summary>
        public volatile bool Answered;

        /// <summary>Polls at once instead of at the end of the current wait.</summary>
        public void Wake()
        {
            lock (_gate)
            {
                _wake.TrySetResult();
            }
        }

        /// <summary>Waits the back-off (or less, when woken).</summary>
        public async Task NextAsync(CancellationToken cancellationToken)
        {
            var delay = owner._options.StatusPollInterval * Math.Pow(1.5, Math.Min(_sinceChange++, 16));
            if (Answered && delay > AnsweredPoll)
            {
                delay = AnsweredPoll; // a pod serves already: the others are most likely a moment behind it
            }
            Task wake;
            lock (_gate)
            {
                wake = _wake.Task;
            }
            await Task.WhenAny(wake, Task.Delay(delay < LongestPoll ? delay : LongestPoll, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
            lock (_gate)
            {
                if (_wake.Task.IsCompleted)
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
        }

        public void Observe(Deployment deployment)
        {
            Last = deployment;
            var status = deployment.ToStatus();
            var key = $"{status.State}/{status.Phase}/{status.ReadyReplicas}/{status.Progress}/{status.Message}";
            if (key == _seen)
            {
                return;
            }
            _seen = key;
            _sinceChange = 0;
            Log.DeploymentStatus(owner._logger, status.InstanceName, status.State, status.Phase ?? "-", status.ReadyReplicas, status.DesiredReplicas,
                status.Progress is { } p ? $" {p:0.#}%" : "", string.IsNullOrEmpty(status.Message) ? "" : ": " + status.Message);
            owner._options.Progress?.Report(status);
        }

        public async ValueTask<Deployment> CheckAsync(CancellationToken cancellationToken)
        {
            var deployment = await owner._api.GetAsync(Last.InstanceName, cancellationToken);
            Observe(deployment);
            if (deployment.IsFailed)
            {
                throw new DeploymentNotReadyException(deployment, "failed");
            }
            if (deployment.IsGone)
            {
                throw new DeploymentNotReadyException(deployment, $"is {deployment.State} before it was ready");
            }
            // MinReadyReplicas (default all) ready is enough: the ingress sends calls only to ready pods, and the
            // others join as they become ready.
            return deployment.IsReady || (deployment.IsActive && deployment.Replicas is { Desired: > 0 } r && owner._minReady is { } min && r.Ready >= min)
                ? deployment
                : throw new NotReadyYetException();
        }
    }

    private sealed class NotReadyYetException : Exception;
}

/// <summary>Basilica says the deployment will not be ready (failed, gone, or too slow).</summary>
internal sealed class DeploymentNotReadyException(Deployment last, string what) : Exception(what)
{
    public Deployment Last { get; } = last;
}
