namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>One call on its way through the Python runtime: queued, running, finished or dropped.</summary>
internal sealed class WorkItem(long id, string method, bool isAsync, ReadOnlyMemory<byte> body, BodyShape shape, MethodPace? pace = null)
{
    public const int Queued = 0;
    public const int Running = 1;
    public const int Finished = 2;
    public const int Dropped = 3;

    public long Id { get; } = id;
    public string Method { get; } = method;
    public bool IsAsync { get; } = isAsync;

    /// <summary>Released as soon as Python has it, or when the call is dropped: a queue of abandoned calls holds no bodies.</summary>
    public ReadOnlyMemory<byte> Body = body;

    public BodyShape Shape { get; } = shape;

    /// <summary>How quick its method's calls have been (plain methods; null for an <c>async def</c>).</summary>
    public MethodPace? Pace { get; } = pace;

    /// <summary>The bridge's payload: a <see cref="BridgeTags"/> byte, then JSON.</summary>
    public TaskCompletionSource<byte[]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary><see cref="Queued"/>, <see cref="Running"/>, <see cref="Finished"/> or <see cref="Dropped"/>; changed with Interlocked.</summary>
    public int State;

    /// <summary>When the caller gave up (Environment.TickCount64), 0 while it waits.</summary>
    public long AbandonedAt;

    /// <summary>The worker running it (plain methods).</summary>
    public GilWorker? Worker;

    /// <summary>Set under the GIL when an interrupt was raised in the thread running the call.</summary>
    public bool Interrupted;
}
