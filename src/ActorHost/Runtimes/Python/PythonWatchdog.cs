using System.Collections.Concurrent;
using System.Threading.Channels;
using Affinetes.ActorHost.Runtimes.Python.Interop;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>
/// Watches the Python runtime for calls past their deadlines and for what can no longer serve:
/// <list type="bullet">
/// <item>An interrupter thread raises <c>DeadlineExceeded</c> in plain methods whose caller gave up (it needs the
/// GIL, so it may wait for it; how long it has waited tells a GIL that is never released), and once a second pokes
/// the asyncio loop so that a running loop beats.</item>
/// <item>Four times a second, without the GIL (<see cref="Ticker"/>): hands quick calls queued behind a long one
/// to the dedicated workers, writes off workers stuck in calls past their deadline and starts replacements
/// (bounded), interrupts the loop's thread when a cancelled task never yields, and decides
/// <see cref="UnservableReason"/>.</item>
/// </list>
/// </summary>
internal sealed partial class PythonWatchdog(PythonRuntimeOptions options, GilWorkerPool pool, PythonBridge bridge, CompletionSink sink, LoopInbox inbox, ILogger logger)
    : IDisposable
{
    private readonly Channel<WorkItem> _interrupts = Channel.CreateUnbounded<WorkItem>();
    private readonly ConcurrentDictionary<long, WorkItem> _abandonedAsync = new();
    private Thread? _interrupter;
    private Ticker? _ticker;
    private volatile bool _stopping;
    private volatile string? _unservable;
    private long _interrupterWaitingSince;

    /// <summary>Why nothing can be served now; null while it can.</summary>
    public string? UnservableReason => _unservable;

    public void Start()
    {
        _interrupter = new Thread(InterrupterLoop) { IsBackground = true, Name = "affinetes-python-interrupter" };
        _interrupter.Start();
        _ticker = new Ticker("python-watch", TimeSpan.FromMilliseconds(250), () =>
        {
            Watch();
            return true;
        });
    }

    /// <summary>A plain method whose caller gave up is running: interrupt it.</summary>
    public void RequestInterrupt(WorkItem item) => _interrupts.Writer.TryWrite(item);

    /// <summary>An async call whose caller gave up was cancelled: interrupt the loop if it does not run again.</summary>
    public void TrackAbandoned(WorkItem item) => _abandonedAsync[item.Id] = item;

    public void Dispose()
    {
        _stopping = true;
        _ticker?.Dispose();
        _interrupts.Writer.TryComplete();
    }

    private void InterrupterLoop()
    {
        var reader = _interrupts.Reader;
        while (!_stopping)
        {
            var pending = reader.WaitToReadAsync().AsTask();
            pending.Wait(TimeSpan.FromSeconds(1));
            inbox.Poke();
            try
            {
                Volatile.Write(ref _interrupterWaitingSince, Environment.TickCount64);
                using (Gil.Acquire())
                {
                    Volatile.Write(ref _interrupterWaitingSince, 0);
                    pool.ForgetRetiredDrainers();
                    while (reader.TryRead(out var item))
                    {
                        if (item.IsAsync)
                        {
                            if (!item.Completion.Task.IsCompleted)
                            {
                                bridge.InterruptLoop();
                            }
                            continue;
                        }
                        // Under the GIL the worker is either inside the call (Running) or not in Python at all.
                        if (Volatile.Read(ref item.State) == WorkItem.Running && item.Worker is { } worker)
                        {
                            bridge.Interrupt(worker.PythonThreadId);
                            item.Interrupted = true;
                        }
                    }
                }
            }
            catch (PythonError e)
            {
                LogInterruptFailed(logger, e);
            }
            finally
            {
                Volatile.Write(ref _interrupterWaitingSince, 0);
            }
        }
    }

    private void Watch()
    {
        if (_stopping)
        {
            return;
        }
        var now = Environment.TickCount64;
        var live = 0;
        var stuck = 0;
        string? stuckIn = null;
        pool.HandOffIfStalled();
        foreach (var worker in pool.Snapshot())
        {
            if (worker.WrittenOff)
            {
                stuck += worker.Pooled ? 0 : 1;
                continue;
            }
            if (worker.Current is { AbandonedAt: > 0 } item && now - item.AbandonedAt > options.WriteOffGrace.TotalMilliseconds)
            {
                worker.WrittenOff = true;
                LogWorkerWrittenOff(logger, worker.Index, item.Method, (now - item.AbandonedAt) / 1000.0);
                if (worker.Pooled)
                {
                    pool.ReleaseDrainer(worker); // a thread of the pool: nothing to replace
                    continue;
                }
                stuck++;
                stuckIn = item.Method;
                continue;
            }
            live += worker.Pooled ? 0 : 1;
        }
        // A stuck worker is replaced while fewer workers are stuck than there are workers; past that, the next
        // stuck call leaves fewer live workers, and none means nothing can be served.
        var wanted = Math.Max(1, options.Workers);
        while (live < wanted && stuck <= wanted)
        {
            pool.StartWorker();
            live++;
        }
        foreach (var (id, item) in _abandonedAsync)
        {
            if (item.Completion.Task.IsCompleted)
            {
                _abandonedAsync.TryRemove(id, out _);
            }
            else if (now - item.AbandonedAt > options.WriteOffGrace.TotalMilliseconds && sink.LastBeat < item.AbandonedAt && !item.Interrupted)
            {
                // Cancelling the task needs the loop to run; it has not run since: something on it never yields.
                item.Interrupted = true;
                _interrupts.Writer.TryWrite(item);
            }
        }

        var lastBeat = sink.LastBeat;
        var waiting = Volatile.Read(ref _interrupterWaitingSince);
        string? reason = null;
        if (live == 0)
        {
            reason = $"all {stuck} Python workers are stuck in calls past their deadlines (e.g. in {stuckIn ?? "a plain method"}), in code that cannot be interrupted";
        }
        else if (waiting > 0 && now - waiting > options.LoopStallLimit.TotalMilliseconds)
        {
            reason = $"Python's GIL has been held for {(now - waiting) / 1000} s by code that does not release it";
        }
        else if (lastBeat > 0 && now - lastBeat > options.LoopStallLimit.TotalMilliseconds)
        {
            reason = $"the asyncio loop has not run for {(now - lastBeat) / 1000} s (a blocking call inside an async def, or its thread died)";
        }
        _unservable = reason;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Python bridge failed on a call to (interrupt)")]
    private static partial void LogInterruptFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Python worker {Worker} is written off: {Method} ran {Seconds:0.0} s past its deadline and ignored the interrupt (a blocking call); a new worker takes its place")]
    private static partial void LogWorkerWrittenOff(ILogger logger, int worker, string method, double seconds);
}
