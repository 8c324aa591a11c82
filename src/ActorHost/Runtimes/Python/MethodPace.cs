using System.Diagnostics;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>
/// Whether a plain method is quick: its last <see cref="Streak"/> calls each took under a millisecond. Calls of a
/// quick method run on the thread that queued them (<see cref="GilWorkerPool"/>); one slow call ends the streak, and
/// its calls go back to the dedicated workers until the method has been quick that many times again.
/// </summary>
internal sealed class MethodPace
{
    public const int Streak = 16;
    private static readonly long QuickCall = Stopwatch.Frequency / 1000;
    private int _quickCalls;

    public bool IsQuick => Volatile.Read(ref _quickCalls) >= Streak;

    /// <summary>A call took <paramref name="elapsed"/> (<see cref="Stopwatch"/> ticks).</summary>
    public void Record(long elapsed)
    {
        if (elapsed >= QuickCall)
        {
            Slow();
        }
        else if (Volatile.Read(ref _quickCalls) < Streak)
        {
            Interlocked.Increment(ref _quickCalls);
        }
    }

    /// <summary>A call ran long (or is running long): the method is not quick.</summary>
    public void Slow() => Volatile.Write(ref _quickCalls, 0);
}
