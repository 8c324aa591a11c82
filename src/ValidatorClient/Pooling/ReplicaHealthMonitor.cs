using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>
/// Active health checks of one environment's replicas (YARP's <c>ActiveHealthCheckMonitor</c> is the model): every
/// probe interval on its <see cref="TimeProvider"/>, each replica is probed at once and the answers are recorded in its
/// <see cref="ReplicaHealth"/>. A replica that misses its probes is skipped; one that stays unresponsive, or that its
/// backend finds dead, is replaced through <see cref="IMonitoredReplicas"/>, at once when calls wait on it. Rounds never
/// overlap: a slow round delays the next tick.
/// </summary>
internal sealed partial class ReplicaHealthMonitor(IMonitoredReplicas replicas, IReplicaProber prober, TimeSpan interval, TimeProvider time,
    ILogger logger, string environmentName) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;
    private int _started;
    private int _disposed;

    /// <summary>Starts probing: the first round one interval from now.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }
        // The timer is made here, not in the loop, so that the first tick is one interval from the start on any clock.
        var timer = new PeriodicTimer(interval, time);
        _loop = Task.Run(() => LoopAsync(timer), CancellationToken.None);
    }

    private async Task LoopAsync(PeriodicTimer timer)
    {
        var token = _stopping.Token;
        using (timer)
        {
            try
            {
                while (await timer.WaitForNextTickAsync(token))
                {
                    try
                    {
                        await CheckAllAsync(token);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
                    {
                        // A backend hiccup (an engine unreachable for a moment) must not stop the monitor.
                        Log.MonitorFailed(logger, environmentName, e.Message);
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }
        }
    }

    /// <summary>One round: probes every replica at once and acts on what each answer (or its absence) says.</summary>
    internal Task CheckAllAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(replicas.Monitored.Select(r => CheckAsync(r, cancellationToken)));

    private async Task CheckAsync(Replica replica, CancellationToken cancellationToken)
    {
        var probe = await prober.ProbeAsync(replica.Endpoint, cancellationToken);
        if (probe.CannotServe is { } reason && replica.Health.MarkUnresponsive($"its host cannot serve: {reason}"))
        {
            replicas.HealthChanged(replica);
        }
        var moved = replica.Health.RecordProbe(probe.Answered, probe.Failure);
        if (moved is not null)
        {
            replicas.HealthChanged(replica);
            if (moved == HealthState.Unresponsive)
            {
                var abandoned = replica.InFlight;
                if (abandoned > 0 && replicas.CanReplace)
                {
                    // Its calls would wait for an answer that is not coming: they go to other replicas now.
                    Log.CallsAbandoned(logger, abandoned, replica.Endpoint.Description, replica.Health.Reason ?? "unresponsive");
                    replicas.Replace(replica, replica.Health.Reason ?? "unresponsive");
                    return;
                }
            }
        }
        if (probe.Answered)
        {
            return;
        }
        if (await replicas.DiagnoseAsync(replica.Endpoint, cancellationToken) is { } dead)
        {
            replicas.Replace(replica, dead.Message.Split('\n')[0]);
        }
        else if (replica.Health.ShouldReplace)
        {
            replicas.Replace(replica, $"{replica.Health.Reason} for {replica.Health.InState.TotalSeconds:0} s");
        }
    }

    /// <summary>Stops probing and waits for the round in progress to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stopping.CancelAsync();
        await _loop.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        _stopping.Dispose();
    }
}
