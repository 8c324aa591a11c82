using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>
/// The way of one call over a <see cref="ReplicaSet"/>: the balancing policy picks a replica among those that take
/// calls, the call's deadline runs on the pool's clock, the answer is read into a result or a specific error, and every
/// call is counted and traced. A call is sent again to another replica when the actor never got it (transport failure
/// before an answer, or a 503 refusal), or when its replica is given up while it runs and its method is idempotent.
/// An answer of the actor (result or error) is final. A call for one replica alone (<see cref="CallReplicaAsync"/>)
/// takes the same way without the choice and without another replica: it fails when that replica is gone.
/// </summary>
internal sealed partial class CallPath
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    private readonly ReplicaSet _replicas;
    private readonly EnvironmentOptions _options;
    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _maxResultBytesHeader;
    private readonly ILoadBalancingPolicy _policy;
    private readonly ResiliencePipeline _failover;

    public CallPath(ReplicaSet replicas, EnvironmentOptions options, HttpClient http, ILogger logger, TimeProvider time)
    {
        _replicas = replicas;
        _options = options;
        _http = http;
        _logger = logger;
        _time = time;
        _maxResultBytesHeader = options.MaxResultBytes.ToString(CultureInfo.InvariantCulture);
        _policy = ILoadBalancingPolicy.For(options.LoadBalance);
        _failover = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<FailoverException>(),
                // After the first attempt, made before the pipeline (CallAsync): 1 + max(2, 2 per replica) attempts in all.
                MaxRetryAttempts = Math.Max(2, replicas.SlotCount * 2) - 1,
                Delay = TimeSpan.Zero,
                BackoffType = DelayBackoffType.Constant,
                UseJitter = false,
                OnRetry = args =>
                {
                    if (args.Outcome.Exception is FailoverException failover)
                    {
                        Log.CallFailedOver(_logger, failover.Replica.Endpoint.Description, failover.Message);
                    }
                    return default;
                },
            })
            .Build();
    }

    private string EnvironmentName => _replicas.EnvironmentName;

    /// <summary>Sends one call; <paramref name="body"/> is the <c>/call</c> request already serialised.</summary>
    public Task<JsonElement> CallAsync(string method, byte[] body, TimeSpan? timeout, CancellationToken cancellationToken) =>
        RunAsync(pinned: null, method, body, timeout, cancellationToken);

    /// <summary>
    /// Sends one call to <paramref name="replica"/> and no other; fails with <see cref="EnvironmentUnavailableException"/>
    /// when that replica is gone (given up, replaced, released), before or while the call runs, or does not take it.
    /// </summary>
    public Task<JsonElement> CallReplicaAsync(ReplicaEndpoint replica, string method, byte[] body, TimeSpan? timeout, CancellationToken cancellationToken) =>
        RunAsync(replica, method, body, timeout, cancellationToken);

    private async Task<JsonElement> RunAsync(ReplicaEndpoint? pinned, string method, byte[] body, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        // The deadline runs on the pool's clock; the caller's cancellation ends it too (as a linked source would).
        using var deadline = timeout is { } limit ? new CancellationTokenSource(limit, _time) : null;
        using var forwarded = deadline is null ? default : cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), deadline);
        var call = new CallState(this, pinned, method, body, timeout, deadline?.Token ?? cancellationToken);
        var telemetry = CallTelemetry.Start(EnvironmentName, method, _time);
        var outcome = AffinetesTelemetry.Outcomes.Success;
        try
        {
            try
            {
                // The first attempt runs outside the pipeline: most calls need no other, and this path is the hot one.
                return await AttemptAsync(call);
            }
            catch (FailoverException first) when (pinned is null)
            {
                Log.CallFailedOver(_logger, first.Replica.Endpoint.Description, first.Message);
            }
            return await _failover.ExecuteAsync(static (state, _) => state.Path.AttemptAsync(state), call, call.Token);
        }
        catch (FailoverException e) when (pinned is not null)
        {
            // What would send a call to another replica ends one that is for this replica alone.
            outcome = AffinetesTelemetry.Outcomes.Unavailable;
            throw new EnvironmentUnavailableException(
                $"{e.Replica.Endpoint.Description} of {EnvironmentName} did not take the call to {method}, which is for that replica alone: {e.Message}", inner: e.InnerException);
        }
        catch (FailoverException e)
        {
            // Out of attempts: every try failed before the actor answered.
            outcome = AffinetesTelemetry.Outcomes.Unavailable;
            throw new EnvironmentUnavailableException(
                $"no replica of {EnvironmentName} could take the call to {method} ({call.Attempts} tried)", inner: e.InnerException);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && deadline?.IsCancellationRequested == true)
        {
            outcome = AffinetesTelemetry.Outcomes.DeadlineExceeded;
            throw new DeadlineExceededException(method, timeout!.Value, serverSide: false);
        }
        catch (Exception e)
        {
            outcome = CallTelemetry.Outcome(e);
            throw;
        }
        finally
        {
            telemetry.End(outcome, call.Attempts, call.Tried.Count > 0 ? call.Tried[^1].Endpoint.Description : null);
        }
    }

    /// <summary>One attempt of a call on one replica. Throws <see cref="FailoverException"/> when another replica should get it.</summary>
    private async ValueTask<JsonElement> AttemptAsync(CallState call)
    {
        var replica = await PickAsync(call);
        call.Tried.Add(replica);
        call.Attempts++;
        var started = _time.GetTimestamp();
        replica.Enter();
        var outcome = AttemptOutcome.NoAnswer;
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(call.Token, replica.Abandoned);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, replica.CallUri) { Content = new ByteArrayContent(call.Body) };
            request.Content.Headers.ContentType = JsonContentType;
            if (call.Timeout is { } t)
            {
                request.Headers.TryAddWithoutValidation(WireHeaders.Timeout, t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture));
            }
            request.Headers.TryAddWithoutValidation(WireHeaders.MaxResultBytes, _maxResultBytesHeader);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token);
            byte[] bytes;
            try
            {
                bytes = await AnswerReader.ReadAsync(response, call.Method, _options.MaxResultBytes, attempt.Token);
            }
            catch (ResultTooLargeException)
            {
                outcome = AttemptOutcome.Error; // it answered: the result is what it is, on any replica
                throw;
            }
            catch (IOException e) when (!attempt.Token.IsCancellationRequested)
            {
                throw new HttpRequestException($"the answer of {replica.Endpoint.Description} broke off: {e.Message}", e);
            }
            outcome = AttemptOutcome.Error;
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && WireAnswer.Refusal(bytes) is { } refusal)
            {
                outcome = AttemptOutcome.Refused;
                // The actor did not run the call (starting, draining or at its limit): another replica may.
                if (refusal is ErrorCodes.ShuttingDown or ErrorCodes.NotReady && replica.Health.MarkUnresponsive($"its host answered {refusal}"))
                {
                    _replicas.HealthChanged(replica);
                }
                call.LastFailure = new HttpRequestException($"{replica.Endpoint.Description} refused the call ({refusal})");
                throw new FailoverException(replica, call.LastFailure.Message, call.LastFailure);
            }
            var result = WireAnswer.Read(call.Method, response.StatusCode, bytes, call.Timeout);
            outcome = AttemptOutcome.Result;
            return result;
        }
        catch (HttpRequestException e)
        {
            // Transport: the actor never answered. Another replica may; the monitor looks at this one.
            call.LastFailure = e;
            throw new FailoverException(replica, e.Message, e);
        }
        catch (OperationCanceledException e) when (replica.IsAbandoned && !call.Token.IsCancellationRequested)
        {
            if (call.Pinned is not null)
            {
                throw new EnvironmentUnavailableException(
                    $"replica {replica.Endpoint.Description} of {EnvironmentName} was given up while running {call.Method} and is gone; the call was for it alone and is not sent to another", inner: e);
            }
            if (_options.NonIdempotentMethods.Contains(call.Method))
            {
                throw new EnvironmentUnavailableException(
                    $"{replica.Endpoint.Description} was given up while running {call.Method}, which is listed as not idempotent and is not sent again", inner: e);
            }
            throw new FailoverException(replica, $"{replica.Endpoint.Description} was given up while the call ran", e);
        }
        finally
        {
            // A call that ended without an answer (transport, its deadline, an abandoned replica) counts against the
            // replica; one its caller cancelled does not.
            if (outcome == AttemptOutcome.NoAnswer && call.Token.IsCancellationRequested && call.Timeout is null)
            {
                outcome = AttemptOutcome.Refused;
            }
            if (replica.Leave(_time.GetElapsedTime(started), outcome))
            {
                _replicas.HealthChanged(replica);
            }
        }
    }

    /// <summary>
    /// The replica for the next attempt: one that takes calls and was not tried yet; else one merely failing too often
    /// (the judgement may be wrong: better than none); else, while replicas are being replaced or may come back, it
    /// waits (within the call's deadline and the ready timeout) for the set to change, and tries again. Replicas that
    /// do not answer their probes are never picked.
    /// </summary>
    private async ValueTask<Replica> PickAsync(CallState call)
    {
        if (call.Pinned is { } pinned)
        {
            return _replicas.Find(pinned) ?? throw new EnvironmentUnavailableException(
                $"replica {pinned.Description} of {EnvironmentName} is gone (given up and replaced, or released); the call to {call.Method} was for it alone and is not sent to another");
        }
        long waitingSince = 0; // set on the first wait: most picks never wait
        while (true)
        {
            var candidates = _replicas.TakingCalls;
            if (call.Tried.Count == 0 && candidates.Length > 0)
            {
                return _policy.Pick(candidates);
            }
            var untried = candidates.Where(r => !call.Tried.Contains(r)).ToArray();
            if (untried.Length > 0)
            {
                return _policy.Pick(untried);
            }
            var (failing, changed) = _replicas.FailingAndNextChange();
            failing = [.. failing.Where(r => !call.Tried.Contains(r))];
            if (failing.Length > 0)
            {
                return _policy.Pick(failing);
            }
            if (waitingSince == 0)
            {
                waitingSince = _time.GetTimestamp();
            }
            var left = _options.ReadyTimeout - _time.GetElapsedTime(waitingSince);
            if (_replicas.IsDisposed || left <= TimeSpan.Zero)
            {
                throw new EnvironmentUnavailableException(call.Attempts > 0
                    ? $"no replica of {EnvironmentName} could take the call to {call.Method} ({call.Attempts} tried)"
                    : $"no replica of {EnvironmentName} takes calls", inner: call.LastFailure);
            }
            // Nothing to try now: a replica is being replaced, or may answer again. The next change of the set
            // (a replica ready, given up, back) wakes this call, which then tries every replica afresh.
            try
            {
                await changed.WaitAsync(left, _time, call.Token);
            }
            catch (TimeoutException)
            {
            }
            call.Token.ThrowIfCancellationRequested();
            call.Tried.Clear();
        }
    }

    /// <summary>The state of one call across its attempts.</summary>
    private sealed class CallState(CallPath path, ReplicaEndpoint? pinned, string method, byte[] body, TimeSpan? timeout, CancellationToken token)
    {
        public CallPath Path { get; } = path;

        /// <summary>The replica the call is for alone, or null when any may take it.</summary>
        public ReplicaEndpoint? Pinned { get; } = pinned;

        public string Method { get; } = method;
        public byte[] Body { get; } = body;
        public TimeSpan? Timeout { get; } = timeout;
        public CancellationToken Token { get; } = token;
        public List<Replica> Tried { get; } = new(2);
        public int Attempts { get; set; }
        public Exception? LastFailure { get; set; }
    }

    /// <summary>This attempt failed in a way another replica may not: the failover pipeline tries the next one.</summary>
    private sealed class FailoverException(Replica replica, string reason, Exception? inner) : Exception(reason, inner)
    {
        public Replica Replica { get; } = replica;
    }
}
