using Affinetes.ValidatorClient.Backends;
using Affinetes.ValidatorClient.Environments;
using Microsoft.Extensions.Logging;
using Polly;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>
/// The replicas of one environment, one per slot of the backend: their start (each waited on until ready, bounded),
/// who is in the set and who takes calls, the replacement of one given up (removed and its slot started again through
/// the backend, with retries), and their release. Calls read <see cref="TakingCalls"/> without a lock; every change of
/// the set completes the task that calls waiting for a replica hold.
/// </summary>
internal sealed partial class ReplicaSet : IMonitoredReplicas, IAsyncDisposable
{
    private readonly IBackend _backend;
    private readonly EnvironmentOptions _options;
    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _restart;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly Replica?[] _slots;
    private readonly List<Task> _background = [];
    private Replica[] _takingCalls = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    public ReplicaSet(string environmentName, IBackend backend, EnvironmentOptions options, HttpClient http, ILogger logger, TimeProvider time)
    {
        EnvironmentName = environmentName;
        _backend = backend;
        _options = options;
        _http = http;
        _logger = logger;
        _time = time;
        _slots = new Replica?[backend.ReplicaCount];
        _restart = RestartPipeline();
    }

    /// <summary>The image (or URLs) these replicas run, for logs, errors and telemetry.</summary>
    public string EnvironmentName { get; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>How many replicas the backend provides: the set's size when every one is live.</summary>
    public int SlotCount => _slots.Length;

    /// <summary>The replicas that take calls now (a snapshot, replaced at every change).</summary>
    public Replica[] TakingCalls => Volatile.Read(ref _takingCalls);

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

    /// <summary>Raised when a replica joins the set (at start, late, or as a replacement).</summary>
    public event Action<ReplicaEndpoint>? ReplicaAdded;

    /// <summary>
    /// Raised, with the reason, when a replica leaves the set while the set lives: given up (dead or hung) to be
    /// replaced. What was pinned to it is lost. Not raised when the set itself is released.
    /// </summary>
    public event Action<ReplicaEndpoint, string>? ReplicaRemoved;

    public IReadOnlyList<ReplicaStats> Stats()
    {
        lock (_gate)
        {
            return [.. _slots.OfType<Replica>().Select(r => r.Stats())];
        }
    }

    /// <summary>The replica of the set at <paramref name="endpoint"/>, whatever its health; null once it was given up or released.</summary>
    public Replica? Find(ReplicaEndpoint endpoint)
    {
        lock (_gate)
        {
            return _slots.FirstOrDefault(r => r is not null && !r.IsAbandoned && r.Endpoint == endpoint);
        }
    }

    /// <summary>
    /// Replicas in the set that are merely failing too often (not given up, not unresponsive), and the task that completes
    /// at the set's next change: read together, so that a change after this look always wakes the one who waits on it.
    /// </summary>
    public (Replica[] Failing, Task Changed) FailingAndNextChange()
    {
        lock (_gate)
        {
            return ([.. _slots.OfType<Replica>().Where(r => !r.IsAbandoned && r.Health.State == HealthState.Failing)], _changed.Task);
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
        // The replicas still starting join as they become ready.
        lock (_gate)
        {
            foreach (var late in pending)
            {
                _background.Add(late.ContinueWith(t => { _ = t.Exception; }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default));
            }
        }
    }

    /// <summary>Starts slot <paramref name="index"/>, waits until it is ready, and puts it in the set.</summary>
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

    public IReadOnlyList<Replica> Monitored
    {
        get
        {
            lock (_gate)
            {
                return [.. _slots.OfType<Replica>().Where(r => !r.IsAbandoned)];
            }
        }
    }

    public bool CanReplace => _backend.CanReplace;

    /// <summary>A replica changed state: rebuild the set that takes calls and log it.</summary>
    public void HealthChanged(Replica replica)
    {
        if (replica.TakesCalls)
        {
            Log.ReplicaRecovered(_logger, replica.Endpoint.Description);
        }
        else
        {
            Log.ReplicaUnhealthy(_logger, replica.Endpoint.Description, replica.Health.Reason ?? "unknown");
        }
        lock (_gate)
        {
            RefreshLocked();
        }
    }

    public Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaEndpoint replica, CancellationToken cancellationToken) =>
        _backend.DiagnoseAsync(replica, cancellationToken);

    private void RefreshLocked()
    {
        Volatile.Write(ref _takingCalls, [.. _slots.OfType<Replica>().Where(r => r.TakesCalls)]);
        _changed.TrySetResult();
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
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

    /// <summary>
    /// Stops starts and replacements in progress and gives every replica up (calls in flight stop waiting). The
    /// replicas themselves are released with the backend.
    /// </summary>
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
            background = [.. _background];
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
}
