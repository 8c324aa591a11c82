using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Affinetes.ActorHost.Runtimes.Python.Interop;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>
/// A thread that runs plain methods with its own long-lived Python thread state: a dedicated worker of the
/// <see cref="GilWorkerPool"/>, or a thread-pool thread that drains quick calls (<see cref="Pooled"/>).
/// </summary>
internal sealed class GilWorker(int index, bool pooled = false)
{
    public int Index { get; } = index;

    /// <summary>A thread-pool thread draining quick calls, not a dedicated worker: the watchdog writes it off but never replaces it.</summary>
    public bool Pooled { get; } = pooled;

    public Thread? Thread { get; set; }

    /// <summary><c>threading.get_ident()</c> of this thread, for interrupts.</summary>
    public ulong PythonThreadId { get; set; }

    /// <summary>A pooled thread's Python thread state, deleted once the thread pool has retired the thread.</summary>
    public nint ThreadState { get; set; }

    public volatile WorkItem? Current;

    /// <summary>When <see cref="Current"/> started (a <see cref="Stopwatch"/> timestamp), 0 between calls.</summary>
    public long CallStarted;

    /// <summary>Stuck in a call past its deadline: replaced, and it ends when its call returns.</summary>
    public volatile bool WrittenOff;
}

/// <summary>
/// The threads that run plain methods.
/// <para>Calls of a quick method (its recent calls all took under a millisecond: <see cref="MethodPace"/>) skip the
/// dedicated workers. One drainer at a time holds the quick calls: a caller that finds none at work runs its own call
/// on its own thread, so it is answered before it awaits, with no hand-off to another thread and back (and it never
/// runs another caller's call: no caller's thread waits on someone else's). Quick calls that arrive meanwhile queue,
/// and a drainer of the thread pool serves them together under one GIL hold. A drainer whose call runs long hands
/// the queue to the dedicated workers, and that method is no longer quick; one stuck past its deadline is written
/// off (the caller of a call on its own thread is answered at the deadline from the timer's thread).</para>
/// <para>Other calls queue for the dedicated workers; each takes the GIL once and serves every call already queued
/// under that one hold. A plain method that blocks in I/O releases the GIL and another worker carries on with the
/// queue. Workers written off by the <see cref="PythonWatchdog"/> are replaced through <see cref="StartWorker"/>.</para>
/// </summary>
internal sealed partial class GilWorkerPool(PythonBridge bridge, CompletionSink sink, ILogger logger)
{
    /// <summary>How long a drainer's call runs before the queue behind it goes to the dedicated workers.</summary>
    private static readonly long HandOffAfter = Stopwatch.Frequency / 500;

    /// <summary>Quick calls one drainer serves in a turn before it lets the thread pool run other work.</summary>
    private const int DrainTurn = 64;

    private readonly ConcurrentQueue<WorkItem> _queue = new();
    private readonly ConcurrentQueue<WorkItem> _quickQueue = new();
    private readonly ConcurrentDictionary<string, MethodPace> _paces = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _available = new(0);
    private readonly Lock _workersLock = new();
    private readonly List<GilWorker> _workers = [];
    private int _workerCount;
    private volatile bool _stopping;

    /// <summary>1 while a drainer owns <see cref="_quickQueue"/>.</summary>
    private int _draining;

    private volatile GilWorker? _drainer;

    /// <summary>This thread's Python thread state, made the first time it drains (the interpreter lives as long as the process).</summary>
    [ThreadStatic]
    private static nint t_threadState;

    [ThreadStatic]
    private static ulong t_pythonThreadId;

    /// <summary>This thread's drainer in <see cref="t_drainerPool"/>.</summary>
    [ThreadStatic]
    private static GilWorker? t_drainer;

    [ThreadStatic]
    private static GilWorkerPool? t_drainerPool;

    /// <summary>The workers alive now, dedicated and pooled (a copy).</summary>
    public List<GilWorker> Snapshot()
    {
        lock (_workersLock)
        {
            return [.. _workers];
        }
    }

    /// <summary>Some worker is still in a call (stuck in C code): finalising the interpreter would wait on it.</summary>
    public bool HasStuckWorkers => Snapshot().Any(w => w.Pooled ? w.Current is not null : w.Thread?.IsAlive == true);

    /// <summary>How quick the calls of the plain method <paramref name="method"/> have been (one per method, kept).</summary>
    public MethodPace PaceOf(string method) => _paces.GetOrAdd(method, static _ => new MethodPace());

    /// <summary>
    /// Queues a call. A quick one (its <see cref="MethodPace.IsQuick"/>) is run on the calling thread when no drainer
    /// is at work, before this returns (the caller must not hold the GIL).
    /// </summary>
    public void Enqueue(WorkItem item, bool quick)
    {
        if (quick && !_stopping)
        {
            if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
            {
                // Here, and only this call: it is answered before its caller awaits it, with no hop to another
                // thread, and this caller's thread never waits on another caller's call.
                Drain(item);
                return;
            }
            _quickQueue.Enqueue(item);
            if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
            {
                ScheduleDrain(preferLocal: false); // the drainer let go meanwhile
            }
            else if (DrainerStalled())
            {
                _available.Release(); // a dedicated worker takes this call
            }
            return;
        }
        _queue.Enqueue(item);
        _available.Release();
    }

    /// <summary>
    /// When the drainer's call has run long: that method is no longer quick, and the quick calls queued behind it go
    /// to the dedicated workers (the watchdog asks four times a second).
    /// </summary>
    public void HandOffIfStalled()
    {
        if (DrainerStalled() && !_quickQueue.IsEmpty)
        {
            _available.Release(_quickQueue.Count);
        }
    }

    private bool DrainerStalled()
    {
        if (_drainer is not { } drainer)
        {
            return false;
        }
        var started = Volatile.Read(ref drainer.CallStarted);
        if (started == 0 || Stopwatch.GetTimestamp() - started < HandOffAfter)
        {
            return false;
        }
        drainer.Current?.Pace?.Slow();
        return true;
    }

    /// <summary>
    /// The watchdog wrote off a drainer stuck in a call past its deadline: a new drainer may start, and the queue
    /// behind the stuck call goes to the dedicated workers.
    /// </summary>
    public void ReleaseDrainer(GilWorker drainer)
    {
        drainer.Current?.Pace?.Slow();
        if (Interlocked.CompareExchange(ref _drainer, null, drainer) == drainer)
        {
            Volatile.Write(ref _draining, 0);
        }
        if (!_quickQueue.IsEmpty)
        {
            _available.Release(_quickQueue.Count);
        }
    }

    /// <summary>
    /// Deletes the Python thread states of pooled threads the thread pool has retired (it ends threads idle for a
    /// while). Needs the GIL.
    /// </summary>
    public unsafe void ForgetRetiredDrainers()
    {
        lock (_workersLock)
        {
            for (var i = _workers.Count - 1; i >= 0; i--)
            {
                var worker = _workers[i];
                if (worker.Pooled && worker.Thread?.IsAlive == false && worker.ThreadState != 0)
                {
                    CPython.PyThreadState_Clear(worker.ThreadState);
                    CPython.PyThreadState_Delete(worker.ThreadState);
                    worker.ThreadState = 0;
                    _workers.RemoveAt(i);
                }
            }
        }
    }

    private void ScheduleDrain(bool preferLocal) => ThreadPool.UnsafeQueueUserWorkItem(static pool => pool.Drain(null), this, preferLocal);

    /// <summary>
    /// A drainer's turn, its owner holding <see cref="_draining"/>: <paramref name="own"/> alone (a caller's own call,
    /// on the caller's thread), or, for a drainer of the thread pool (null), every quick call queued (up to a turn).
    /// </summary>
    private unsafe void Drain(WorkItem? own)
    {
        var drainer = t_drainer;
        if (drainer is null || drainer.WrittenOff || t_drainerPool != this)
        {
            drainer = t_drainer = NewDrainer(t_drainerPool == this ? drainer : null);
            t_drainerPool = this;
        }
        _drainer = drainer;
        var served = 0;
        CPython.PyEval_RestoreThread(t_threadState);
        try
        {
            if (own is not null)
            {
                Run(drainer, own);
            }
            else
            {
                while (!drainer.WrittenOff && served < DrainTurn && _quickQueue.TryDequeue(out var item))
                {
                    Run(drainer, item);
                    served++;
                }
            }
        }
        finally
        {
            t_threadState = CPython.PyEval_SaveThread();
        }
        if (drainer.WrittenOff)
        {
            return; // the watchdog gave the queue to another drainer while this one was stuck
        }
        if (served == DrainTurn)
        {
            ScheduleDrain(preferLocal: false); // still the owner
            return;
        }
        Interlocked.CompareExchange(ref _drainer, null, drainer);
        Volatile.Write(ref _draining, 0);
        if (!_quickQueue.IsEmpty && Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            // Calls queued while this one ran: a drainer of the pool takes them (a caller's thread goes back to its caller).
            ScheduleDrain(preferLocal: own is null);
        }
    }

    /// <summary>This thread's drainer in this pool; the thread's first, with a new Python thread state.</summary>
    private unsafe GilWorker NewDrainer(GilWorker? previous)
    {
        if (t_threadState == 0)
        {
            CPython.PyGILState_Ensure(); // kept until the thread pool retires the thread (ForgetRetiredDrainers)
            t_pythonThreadId = CPython.PyThread_get_thread_ident();
            t_threadState = CPython.PyEval_SaveThread();
        }
        var drainer = new GilWorker(Interlocked.Increment(ref _workerCount) - 1, pooled: true)
        {
            Thread = Thread.CurrentThread,
            PythonThreadId = t_pythonThreadId,
            ThreadState = t_threadState,
        };
        lock (_workersLock)
        {
            if (previous is not null)
            {
                _workers.Remove(previous); // written off, and back: this one takes its place and its thread state
            }
            _workers.Add(drainer);
        }
        return drainer;
    }

    public void StartWorker()
    {
        var worker = new GilWorker(Interlocked.Increment(ref _workerCount) - 1);
        lock (_workersLock)
        {
            _workers.Add(worker);
        }
        worker.Thread = new Thread(() => WorkerLoop(worker)) { IsBackground = true, Name = $"affinetes-python-{worker.Index}" };
        worker.Thread.Start();
    }

    /// <summary>
    /// Lets the workers finish what is queued and end; a worker still in a call after a second is left (stuck in C
    /// code). Quick calls queued from now go to the dedicated workers.
    /// </summary>
    public async Task StopAsync()
    {
        _stopping = true;
        var workers = Snapshot().Where(w => !w.Pooled).ToList();
        if (workers.Count > 0)
        {
            _available.Release(workers.Count + _quickQueue.Count);
        }
        var deadline = Stopwatch.StartNew();
        while (Volatile.Read(ref _draining) != 0 && _drainer is not { WrittenOff: true } && deadline.Elapsed < TimeSpan.FromSeconds(1))
        {
            await Task.Delay(10).ConfigureAwait(false);
        }
        await Task.WhenAll(workers.Select(w => Task.Run(() => w.Thread?.Join(TimeSpan.FromSeconds(1))))).ConfigureAwait(false);
    }

    private unsafe void WorkerLoop(GilWorker worker)
    {
        var gil = CPython.PyGILState_Ensure(); // creates this thread's Python thread state once
        worker.PythonThreadId = CPython.PyThread_get_thread_ident();
        var threadState = CPython.PyEval_SaveThread();
        try
        {
            while (!worker.WrittenOff)
            {
                _available.Wait();
                if (worker.WrittenOff)
                {
                    _available.Release(); // the signal belongs to a live worker
                    return;
                }
                if (_stopping && _queue.IsEmpty && _quickQueue.IsEmpty)
                {
                    return;
                }
                CPython.PyEval_RestoreThread(threadState);
                try
                {
                    // Serve everything already queued under this one GIL hold (and quick calls a drainer left).
                    do
                    {
                        if (_queue.TryDequeue(out var item) || _quickQueue.TryDequeue(out item))
                        {
                            Run(worker, item);
                        }
                    }
                    while (!worker.WrittenOff && _available.Wait(0));
                }
                finally
                {
                    threadState = CPython.PyEval_SaveThread();
                }
            }
        }
        finally
        {
            CPython.PyEval_RestoreThread(threadState);
            CPython.PyGILState_Release(gil);
            if (worker.WrittenOff)
            {
                LogWorkerReturned(logger, worker.Index);
            }
            lock (_workersLock)
            {
                _workers.Remove(worker);
            }
        }
    }

    private void Run(GilWorker worker, WorkItem item)
    {
        try
        {
            if (Interlocked.CompareExchange(ref item.State, WorkItem.Running, WorkItem.Queued) != WorkItem.Queued)
            {
                return; // dropped while queued
            }
            var body = item.Body;
            item.Body = default;
            item.Worker = worker;
            worker.Current = item;
            var started = Stopwatch.GetTimestamp();
            Volatile.Write(ref worker.CallStarted, started);
            byte[] payload;
            try
            {
                payload = bridge.CallSync(item.Id, item.Method, body.Span, item.Shape);
            }
            finally
            {
                Volatile.Write(ref worker.CallStarted, 0);
                item.Pace?.Record(Stopwatch.GetTimestamp() - started);
                worker.Current = null;
                Volatile.Write(ref item.State, WorkItem.Finished);
                if (item.Interrupted)
                {
                    bridge.ClearInterrupt(worker.PythonThreadId);
                }
            }
            if (payload.Length > 0 && payload[0] == BridgeTags.Continues)
            {
                // The method returned an awaitable: the loop finishes it. It cannot report before this registration,
                // which happens while this thread still holds the GIL.
                sink.Register(item.Id, item.Completion);
                return;
            }
            item.Completion.TrySetResult(payload);
        }
        catch (Exception e)
        {
            // The bridge answers every call with a tagged string; reaching here is a bug in the bridge itself.
            LogBridgeFailure(logger, item.Method, e);
            sink.Forget(item.Id);
            item.Completion.TrySetResult(BridgeFailure(e));
        }
    }

    /// <summary>The tagged payload of a call the bridge itself failed on.</summary>
    public static byte[] BridgeFailure(Exception e)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(new ErrorDetail
        {
            Code = ErrorCodes.ActorError,
            Message = $"internal error of the Python bridge: {e.Message}",
            Type = e is PythonError python ? python.TypeName : e.GetType().Name,
        }, ProtocolJson.Wire.ErrorDetail);
        return [BridgeTags.Fail, .. json];
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Python bridge failed on a call to {Method}")]
    private static partial void LogBridgeFailure(ILogger logger, string method, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Python worker {Worker}, written off, has come back from its call and ends")]
    private static partial void LogWorkerReturned(ILogger logger, int worker);
}
