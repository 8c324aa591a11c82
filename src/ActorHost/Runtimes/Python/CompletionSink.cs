using System.Collections.Concurrent;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>
/// Where async calls wait for their result: the asyncio loop's thread hands each finished call's payload over
/// (<see cref="Interop.LoopCallbacks"/>) and never runs request code itself (completions continue on the thread pool).
/// </summary>
internal sealed class CompletionSink
{
    private readonly ConcurrentDictionary<long, TaskCompletionSource<byte[]>> _waiting = new();
    private long _lastBeat;

    public void Register(long id, TaskCompletionSource<byte[]> completion) => _waiting[id] = completion;

    public void Forget(long id) => _waiting.TryRemove(id, out _);

    /// <summary>When the asyncio loop last took its queue (Environment.TickCount64); 0 before the first time.</summary>
    public long LastBeat => Volatile.Read(ref _lastBeat);

    /// <summary>The loop ran: called on its thread each time it takes its queue.</summary>
    public void Beat() => Volatile.Write(ref _lastBeat, Environment.TickCount64);

    /// <summary>An async call has finished: <paramref name="payload"/> is the bridge's tagged answer.</summary>
    public void Complete(long id, byte[] payload)
    {
        if (_waiting.TryRemove(id, out var completion))
        {
            completion.TrySetResult(payload);
        }
    }
}
