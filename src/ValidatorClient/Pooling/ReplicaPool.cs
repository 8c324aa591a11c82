using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Backends;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>
/// The replicas of one environment and the call path over them.
/// <list type="bullet">
/// <item>Start: every replica is started through the backend and waited on until ready (bounded); the pool is usable
/// once <see cref="EnvironmentOptions.MinReadyReplicas"/> are, the others join as they become ready.</item>
/// <item>A call goes to a replica the balancing policy picks among those that take calls. It is sent again to
/// another replica when the actor never got it (transport failure before an answer, or a 503 refusal), or when its
/// replica is given up while it runs and its method is idempotent. An answer of the actor (result or error) is final.</item>
/// <item>A monitor probes every replica's <c>/ready</c> (which also renews its lease): a replica that misses probes,
/// or whose calls fail too often, is skipped; one that stays unresponsive, or whose container died, is replaced
/// through the backend, and calls wait (within their deadline) for a replica while none takes calls.</item>
/// </list>
/// </summary>
internal sealed class ReplicaPool : IAsyncDisposable
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    private readonly IBackend _backend;
    private readonly EnvironmentOptions _options;
    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ILoadBalancingPolicy _policy;
    private readonly ResiliencePipeline _failover;
    private readonly ResiliencePipeline _restart;
    private readonly ResiliencePipeline _probe;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly Replica?[] _slots;
    private readonly List<Task> _background = [];
    private Replica[] _takingCalls = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _monitor;
    private int _disposed;

    public ReplicaPool(string environmentName, IBackend backend, EnvironmentOptions options, HttpClient http, ILogger logger, TimeProvider? time = null)
    {
        EnvironmentName = environmentName;
        _backend = backend;
        _options = options;
        _http = http;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _policy = ILoadBalancingPolicy.For(options.LoadBalance);
        _slots = new Replica?[backend.ReplicaCount];
        _failover = new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<FailoverException>(),
                // After the first attempt, made before the pipeline (CallAsync): 1 + max(2, 2 per replica) attempts in all.
                MaxRetryAttempts = Math.Max(2, backend.ReplicaCount * 2) - 1,
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
        _restart = new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException && e is not EnvironmentAuthenticationException),
                MaxRetryAttempts = 4,
                Delay = TimeSpan.FromSeconds(1),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = args =>
                {
                    Log.ReplacementFailed(_logger, args.Context.Properties.GetValue(SlotKey, -1), EnvironmentName, args.AttemptNumber + 1,
                        args.Outcome.Exception?.Message ?? "unknown");
                    return default;
                },
            })
            .Build();
        _probe = new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddTimeout(options.Health.ProbeTimeout)
            .Build();
        Instruments.Track(this);
    }

    private static readonly ResiliencePropertyKey<int> SlotKey = new("affinetes.slot");

    /// <summary>The image (or URLs) this pool serves, for logs and telemetry.</summary>
    public string EnvironmentName { get; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Replicas that take calls now.</summary>
    public int ReadyCount => Volatile.Read(ref _takingCalls).Length;

    /// <summary>Every live replica, in replica order (those starting are not listed).</summary>
    public IReadOnlyList<ReplicaEndpoint> Endpoints
    {
        get
        {
            lock (_gate)
            {
                return [.. _slots.OfType<Replica>().Select(r => r.Endpoint)];
            }
        }
    }

    /// <summary>Raised when a replica joins the pool (at start, late, or as a replacement).</summary>
    public event Action<ReplicaEndpoint>? ReplicaAdded;

    public IReadOnlyList<ReplicaStats> Stats()
    {
        lock (_gate)
        {
            return [.. _slots.OfType<Replica>().Select(r => r.Stats())];
        }
    }

    /// <summary>
    /// Starts every replica and returns once <see cref="EnvironmentOptions.MinReadyReplicas"/> (default all) are ready.
    /// On failure or cancellation nothing it started is left running, and the first failure is thrown.
    /// </summary>
    public async Task ProvisionAsync(CancellationToken cancellationToken)
    {
        await _backend.PrepareAsync(cancellationToken);
        var needed = _options.MinReadyReplicas ?? _slots.Length;
        using var starting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        var starts = Enumerable.Range(0, _slots.Length).Select(i => StartSlotAsync(i, starting.Token)).ToList();
        var pending = starts.ToList();
        var ready = 0;
        Exception? failure = null;
        while (pending.Count > 0 && ready < needed)
        {
            var done = await Task.WhenAny(pending);
            pending.Remove(done);
            if (done.IsCompletedSuccessfully)
            {
                ready++;
            }
            else
            {
                failure ??= done.Exception?.InnerException ?? new OperationCanceledException(cancellationToken);
                if (_slots.Length - (starts.Count - pending.Count - ready) < needed)
                {
                    break; // too many failed to ever reach the minimum
                }
            }
        }
        if (ready < needed)
        {
            await starting.CancelAsync();
            await Task.WhenAll(starts.Select(s => s.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default)));
            await RemoveAllAsync();
            cancellationToken.ThrowIfCancellationRequested();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure!);
        }
        // The replicas still starting join as they become ready; the monitor takes over.
        lock (_gate)
        {
            foreach (var late in pending)
            {
                _background.Add(late.ContinueWith(t => { _ = t.Exception; }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default));
            }
        }
        _monitor = Task.Run(MonitorAsync, CancellationToken.None);
    }

    /// <summary>Starts slot <paramref name="index"/>, waits until it is ready, and puts it in the pool.</summary>
    private async Task StartSlotAsync(int index, CancellationToken cancellationToken)
    {
        try
        {
            await StartAndAddAsync(index, cancellationToken);
        }
        finally
        {
            lock (_gate)
            {
                RefreshLocked(); // calls waiting for a replica look again, whether this one came or not
            }
        }
    }

    private async Task StartAndAddAsync(int index, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var endpoint = await _backend.StartReplicaAsync(index, cancellationToken);
        Log.ReplicaStarted(_logger, endpoint.Description);
        try
        {
            await ReadinessProbe.WaitAsync(_http, endpoint, _options.ReadyTimeout, ct => _backend.DiagnoseAsync(endpoint, ct), _time, cancellationToken);
        }
        catch (Exception e)
        {
            if (e is not OperationCanceledException)
            {
                Log.ReplicaStartFailed(_logger, endpoint.Description, e.Message);
            }
            await _backend.RemoveReplicaAsync(endpoint, CancellationToken.None);
            throw;
        }
        Log.ReplicaReady(_logger, endpoint.Description, _time.GetElapsedTime(started).TotalMilliseconds);
        var replica = new Replica(index, endpoint, new ReplicaHealth(_options.Health, _time));
        lock (_gate)
        {
            if (IsDisposed)
            {
                replica = null;
            }
            else
            {
                _slots[index] = replica;
                RefreshLocked();
            }
        }
        if (replica is null)
        {
            await _backend.RemoveReplicaAsync(endpoint, CancellationToken.None);
            throw new ObjectDisposedException(nameof(ReplicaPool));
        }
        ReplicaAdded?.Invoke(endpoint);
    }

    /// <summary>Sends one call; <paramref name="body"/> is the <c>/call</c> request already serialised.</summary>
    public async Task<JsonElement> CallAsync(string method, byte[] body, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        // The deadline runs on the pool's clock; the caller's cancellation ends it too (as a linked source would).
        using var deadline = timeout is { } limit ? new CancellationTokenSource(limit, _time) : null;
        using var forwarded = deadline is null ? default : cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), deadline);
        var call = new CallState(this, method, body, timeout, deadline?.Token ?? cancellationToken);
        var started = _time.GetTimestamp();
        Instruments.InFlight.Add(1);
        using var activity = Instruments.Source.StartActivity(AffinetesTelemetry.CallActivity, ActivityKind.Client);
        activity?.SetTag("affinetes.method", method);
        activity?.SetTag("affinetes.environment", EnvironmentName);
        var outcome = AffinetesTelemetry.Outcomes.Success;
        try
        {
            try
            {
                // The first attempt runs outside the pipeline: most calls need no other, and this path is the hot one.
                return await AttemptAsync(call);
            }
            catch (FailoverException first)
            {
                Log.CallFailedOver(_logger, first.Replica.Endpoint.Description, first.Message);
            }
            return await _failover.ExecuteAsync(static (state, _) => state.Pool.AttemptAsync(state), call, call.Token);
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
            outcome = Outcome(e);
            throw;
        }
        finally
        {
            Instruments.InFlight.Add(-1);
            var tags = new TagList { { "affinetes.method", method }, { "affinetes.outcome", outcome } };
            Instruments.Calls.Add(1, tags);
            Instruments.Duration.Record(_time.GetElapsedTime(started).TotalSeconds, tags);
            if (outcome != AffinetesTelemetry.Outcomes.Success)
            {
                Instruments.Errors.Add(1, new TagList { { "affinetes.method", method }, { "error.type", outcome } });
            }
            activity?.SetTag("affinetes.outcome", outcome);
            activity?.SetTag("affinetes.attempts", call.Attempts);
            activity?.SetTag("affinetes.replica", call.Tried.Count > 0 ? call.Tried[^1].Endpoint.Description : null);
            if (outcome != AffinetesTelemetry.Outcomes.Success)
            {
                activity?.SetStatus(ActivityStatusCode.Error, outcome);
            }
        }
    }

    private static string Outcome(Exception e) => e switch
    {
        RemoteActorException => AffinetesTelemetry.Outcomes.ActorError,
        MethodNotFoundException or BadArgumentsException => AffinetesTelemetry.Outcomes.BadCall,
        DeadlineExceededException => AffinetesTelemetry.Outcomes.DeadlineExceeded,
        EnvironmentAuthenticationException => AffinetesTelemetry.Outcomes.Unauthorized,
        OperationCanceledException => AffinetesTelemetry.Outcomes.Cancelled,
        _ => AffinetesTelemetry.Outcomes.Unavailable,
    };

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
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, attempt.Token);
            var bytes = await response.Content.ReadAsByteArrayAsync(attempt.Token);
            outcome = AttemptOutcome.Error;
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && WireAnswer.Refusal(bytes) is { } refusal)
            {
                outcome = AttemptOutcome.Refused;
                // The actor did not run the call (starting, draining or at its limit): another replica may.
                if (refusal is ErrorCodes.ShuttingDown or ErrorCodes.NotReady && replica.Health.MarkUnresponsive($"its host answered {refusal}"))
                {
                    Refresh(replica, $"its host answered {refusal}");
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
                Refresh(replica, replica.Health.Reason);
            }
        }
    }

    /// <summary>
    /// The replica for the next attempt: one that takes calls and was not tried yet; else one merely failing too often
    /// (the judgement may be wrong: better than none); else, while replicas are being replaced or may come back, it
    /// waits (within the call's deadline and the ready timeout) for the pool to change, and tries again. Replicas that
    /// do not answer their probes are never picked.
    /// </summary>
    private async ValueTask<Replica> PickAsync(CallState call)
    {
        long waitingSince = 0; // set on the first wait: most picks never wait
        while (true)
        {
            var candidates = Volatile.Read(ref _takingCalls);
            if (call.Tried.Count == 0 && candidates.Length > 0)
            {
                return _policy.Pick(candidates);
            }
            var untried = candidates.Where(r => !call.Tried.Contains(r)).ToArray();
            if (untried.Length > 0)
            {
                return _policy.Pick(untried);
            }
            Replica[] failing;
            Task changed;
            lock (_gate)
            {
                failing = [.. _slots.OfType<Replica>().Where(r => !r.IsAbandoned && r.Health.State == HealthState.Failing && !call.Tried.Contains(r))];
                changed = _changed.Task;
            }
            if (failing.Length > 0)
            {
                return _policy.Pick(failing);
            }
            if (waitingSince == 0)
            {
                waitingSince = _time.GetTimestamp();
            }
            var left = _options.ReadyTimeout - _time.GetElapsedTime(waitingSince);
            if (IsDisposed || left <= TimeSpan.Zero)
            {
                throw new EnvironmentUnavailableException(call.Attempts > 0
                    ? $"no replica of {EnvironmentName} could take the call to {call.Method} ({call.Attempts} tried)"
                    : $"no replica of {EnvironmentName} takes calls", inner: call.LastFailure);
            }
            // Nothing to try now: a replica is being replaced, or may answer again. The next change of the pool
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

    /// <summary>A replica changed state: rebuild the set that takes calls and log it.</summary>
    private void Refresh(Replica replica, string? reason)
    {
        if (replica.TakesCalls)
        {
            Log.ReplicaRecovered(_logger, replica.Endpoint.Description);
        }
        else
        {
            Log.ReplicaUnhealthy(_logger, replica.Endpoint.Description, reason ?? "unknown");
        }
        lock (_gate)
        {
            RefreshLocked();
        }
    }

    private void RefreshLocked()
    {
        Volatile.Write(ref _takingCalls, [.. _slots.OfType<Replica>().Where(r => r.TakesCalls)]);
        _changed.TrySetResult();
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Probes every replica each interval; gives up and replaces those that died or stay unresponsive.</summary>
    private async Task MonitorAsync()
    {
        var token = _stopping.Token;
        using var timer = new PeriodicTimer(_options.Health.ProbeInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(token))
            {
                try
                {
                    Replica[] replicas;
                    lock (_gate)
                    {
                        replicas = [.. _slots.OfType<Replica>().Where(r => !r.IsAbandoned)];
                    }
                    await Task.WhenAll(replicas.Select(r => CheckAsync(r, token)));
                }
                catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
                {
                    // A backend hiccup (an engine unreachable for a moment) must not stop the monitor.
                    Log.MonitorFailed(_logger, EnvironmentName, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private async Task CheckAsync(Replica replica, CancellationToken token)
    {
        var (answered, failure) = await ProbeAsync(replica, token);
        var moved = replica.Health.RecordProbe(answered, failure);
        if (moved is not null)
        {
            Refresh(replica, replica.Health.Reason);
            if (moved == HealthState.Unresponsive)
            {
                var abandoned = replica.InFlight;
                if (abandoned > 0 && _backend.CanReplace)
                {
                    // Its calls would wait for an answer that is not coming: they go to other replicas now.
                    Log.CallsAbandoned(_logger, abandoned, replica.Endpoint.Description, replica.Health.Reason ?? "unresponsive");
                    ReplaceInBackground(replica, replica.Health.Reason ?? "unresponsive");
                    return;
                }
            }
        }
        if (answered)
        {
            return;
        }
        if (await _backend.DiagnoseAsync(replica.Endpoint, token) is { } dead)
        {
            ReplaceInBackground(replica, dead.Message.Split('\n')[0]);
        }
        else if (replica.Health.ShouldReplace)
        {
            ReplaceInBackground(replica, $"{replica.Health.Reason} for {replica.Health.InState.TotalSeconds:0} s");
        }
    }

    private async Task<(bool Answered, string? Failure)> ProbeAsync(Replica replica, CancellationToken token)
    {
        try
        {
            return await _probe.ExecuteAsync(static async (state, ct) =>
            {
                var (pool, replica) = state;
                using var response = await pool._http.GetAsync(new Uri(replica.Endpoint.BaseUrl, WireRoutes.Ready), ct);
                if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NotFound)
                {
                    return (true, (string?)null); // NotFound: a server of the original, which has no /ready but answers
                }
                var body = await response.Content.ReadAsByteArrayAsync(ct);
                if (WireAnswer.StartupFailure(body) is { } reason && replica.Health.MarkUnresponsive($"its host cannot serve: {reason}"))
                {
                    pool.Refresh(replica, replica.Health.Reason);
                }
                return (false, $"{(int)response.StatusCode}");
            }, (this, replica), token);
        }
        catch (HttpRequestException e)
        {
            return (false, e.Message);
        }
        catch (TimeoutRejectedException)
        {
            return (false, $"no answer within {_options.Health.ProbeTimeout.TotalSeconds:0.###} s");
        }
    }

    /// <summary>
    /// Gives <paramref name="replica"/> up (its calls in flight fail over) and, where the backend can, removes it and
    /// starts its slot again; where it cannot, the replica stays in the pool, skipped until its probes succeed.
    /// </summary>
    private void ReplaceInBackground(Replica replica, string reason)
    {
        if (!_backend.CanReplace)
        {
            return;
        }
        lock (_gate)
        {
            if (IsDisposed || replica.IsAbandoned || _slots[replica.Index] != replica)
            {
                return;
            }
            replica.Abandon();
            _slots[replica.Index] = null;
            RefreshLocked();
            Log.ReplicaReplacing(_logger, replica.Endpoint.Description, reason);
            Instruments.ReplicasReplaced.Add(1, new KeyValuePair<string, object?>("affinetes.environment", EnvironmentName));
            _background.RemoveAll(t => t.IsCompleted);
            _background.Add(Task.Run(() => ReplaceAsync(replica), CancellationToken.None));
        }
    }

    private async Task ReplaceAsync(Replica old)
    {
        var token = _stopping.Token;
        try
        {
            await _backend.RemoveReplicaAsync(old.Endpoint, token);
            var context = ResilienceContextPool.Shared.Get(token);
            context.Properties.Set(SlotKey, old.Index);
            try
            {
                await _restart.ExecuteAsync(static async (ctx, state) =>
                    await state.Pool.StartSlotAsync(state.Index, ctx.CancellationToken), context, (Pool: this, old.Index));
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }
            Replica? replacement;
            lock (_gate)
            {
                replacement = _slots[old.Index];
            }
            Log.ReplicaReplaced(_logger, old.Endpoint.Description, replacement?.Endpoint.Description ?? "?");
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Log.ReplacementFailed(_logger, old.Index, EnvironmentName, 5, e.Message);
            lock (_gate)
            {
                RefreshLocked(); // calls waiting for a replica see that none is coming
            }
        }
    }

    private async Task RemoveAllAsync()
    {
        Replica[] replicas;
        lock (_gate)
        {
            replicas = [.. _slots.OfType<Replica>()];
            Array.Clear(_slots);
            RefreshLocked();
        }
        foreach (var replica in replicas)
        {
            replica.Abandon();
        }
        await Task.WhenAll(replicas.Select(r => _backend.RemoveReplicaAsync(r.Endpoint, CancellationToken.None)));
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stopping.CancelAsync();
        Task[] background;
        lock (_gate)
        {
            background = [.. _background, _monitor ?? Task.CompletedTask];
            RefreshLocked();
        }
        await Task.WhenAll(background.Select(t => t.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default)));
        Replica[] replicas;
        lock (_gate)
        {
            replicas = [.. _slots.OfType<Replica>()];
        }
        foreach (var replica in replicas)
        {
            replica.Abandon();
        }
        _stopping.Dispose();
    }

    /// <summary>The state of one call across its attempts.</summary>
    private sealed class CallState(ReplicaPool pool, string method, byte[] body, TimeSpan? timeout, CancellationToken token)
    {
        public ReplicaPool Pool { get; } = pool;
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
