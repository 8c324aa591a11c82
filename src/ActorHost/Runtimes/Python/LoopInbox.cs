using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Affinetes.ActorHost.Runtimes.Python.Interop;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>
/// Async calls (and their cancellations) on their way to the asyncio loop. A request queues its call here and, when
/// the loop has nothing pending yet, writes one byte to the loop's wake pipe: no GIL and no worker thread between a
/// request and the loop (they used to go through a worker taking the GIL to call <c>call_soon_threadsafe</c>). The loop
/// takes everything queued in one <c>take()</c>, so a burst of calls costs it one wake-up.
/// </summary>
internal sealed class LoopInbox(CompletionSink sink)
{
    private readonly ConcurrentQueue<(WorkItem Item, bool Cancel)> _queue = new();
    private int _wakePending;
    private int _wakeFd = -1;
    private PythonBridge? _bridge;

    /// <summary>Connects the inbox to the started bridge (its wake pipe and the names of its methods).</summary>
    public void Connect(PythonBridge bridge)
    {
        _bridge = bridge;
        _wakeFd = bridge.WakeFd;
    }

    /// <summary>The runtime stops: no more wake-ups (the loop stops too).</summary>
    public void Disconnect() => _wakeFd = -1;

    /// <summary>Queues an async call for the loop.</summary>
    public void Submit(WorkItem item)
    {
        _queue.Enqueue((item, false));
        Wake();
    }

    /// <summary>Queues the cancellation of an async call the loop has taken.</summary>
    public void Cancel(WorkItem item)
    {
        _queue.Enqueue((item, true));
        Wake();
    }

    /// <summary>Asks the loop to take its queue even when it is empty: its heartbeat (<see cref="CompletionSink.LastBeat"/>).</summary>
    public void Poke() => Wake();

    private unsafe void Wake()
    {
        if (_wakeFd < 0 || Interlocked.Exchange(ref _wakePending, 1) != 0)
        {
            return; // a wake-up is on its way already: the loop takes this item with the others
        }
        byte one = 1;
        // Non-blocking: a full pipe already holds wake-ups enough.
        _ = Write(_wakeFd, &one, 1);
    }

    /// <summary>
    /// On the loop's thread, under the GIL: a Python list of <c>(kind, call_id, name, body, shape)</c> tuples for
    /// everything queued (calls dropped while queued are left out).
    /// </summary>
    public unsafe nint Take()
    {
        // Cleared before the queue is read: an item queued after this line wakes the loop again.
        Volatile.Write(ref _wakePending, 0);
        sink.Beat();
        var entries = new List<nint>();
        while (_queue.TryDequeue(out var entry))
        {
            var item = entry.Item;
            if (entry.Cancel)
            {
                entries.Add(_bridge!.NewCancelEntry(item.Id));
                continue;
            }
            if (Interlocked.CompareExchange(ref item.State, WorkItem.Running, WorkItem.Queued) != WorkItem.Queued)
            {
                continue; // dropped while queued
            }
            entries.Add(_bridge!.NewSubmitEntry(item.Id, item.Method, item.Body.Span, item.Shape));
            item.Body = default;
        }
        var list = PythonError.ThrowIfNull(CPython.PyList_New(entries.Count));
        for (var i = 0; i < entries.Count; i++)
        {
            CPython.PyList_SetItem(list, i, entries[i]); // steals the entry
        }
        return list;
    }

    [DllImport("libc", EntryPoint = "write")]
    private static extern unsafe nint Write(int fd, byte* buffer, nint count);
}
