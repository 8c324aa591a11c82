using System.Collections.Concurrent;
using System.Text.Json;
using Affinetes.ActorHost.Runtimes.Python.Interop;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>A thread of the <see cref="GilWorkerPool"/>, with its own long-lived Python thread state.</summary>
internal sealed class GilWorker(int index)
{
    public int Index { get; } = index;
    public Thread? Thread { get; set; }

    /// <summary><c>threading.get_ident()</c> of this thread, for interrupts.</summary>
    public ulong PythonThreadId { get; set; }

    public volatile WorkItem? Current;

    /// <summary>Stuck in a call past its deadline: replaced, and it ends when its call returns.</summary>
    public volatile bool WrittenOff;
}

/// <summary>
/// The threads that run plain methods. Calls queue on one lock-free queue; each worker takes the GIL once and
/// serves every call already queued under that one hold (one GIL hand-off serves a burst instead of one per
/// request). A plain method that blocks in I/O releases the GIL and another worker carries on with the queue.
/// Workers written off by the <see cref="PythonWatchdog"/> are replaced through <see cref="StartWorker"/>.
/// </summary>
internal sealed partial class GilWorkerPool(PythonBridge bridge, CompletionSink sink, ILogger logger)
{
    private readonly ConcurrentQueue<WorkItem> _queue = new();
    private readonly SemaphoreSlim _available = new(0);
    private readonly Lock _workersLock = new();
    private readonly List<GilWorker> _workers = [];
    private int _workerCount;
    private volatile bool _stopping;

    /// <summary>The workers alive now (a copy).</summary>
    public List<GilWorker> Snapshot()
    {
        lock (_workersLock)
        {
            return [.. _workers];
        }
    }

    /// <summary>Some worker is still in a call (stuck in C code): finalising the interpreter would wait on it.</summary>
    public bool HasStuckWorkers => Snapshot().Any(w => w.Thread?.IsAlive == true);

    public void Enqueue(WorkItem item)
    {
        _queue.Enqueue(item);
        _available.Release();
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

    /// <summary>Lets the workers finish what is queued and end; a worker still in a call after a second is left (stuck in C code).</summary>
    public async Task StopAsync()
    {
        _stopping = true;
        var workers = Snapshot();
        if (workers.Count > 0)
        {
            _available.Release(workers.Count);
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
                if (_stopping && _queue.IsEmpty)
                {
                    return;
                }
                CPython.PyEval_RestoreThread(threadState);
                try
                {
                    // Serve everything already queued under this one GIL hold.
                    do
                    {
                        if (_queue.TryDequeue(out var item))
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
            byte[] payload;
            try
            {
                payload = bridge.CallSync(item.Id, item.Method, body.Span, item.Shape);
            }
            finally
            {
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
