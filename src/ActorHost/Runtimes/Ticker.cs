namespace Affinetes.ActorHost.Runtimes;

/// <summary>
/// Runs a check at a fixed period on a thread of its own, never on the thread pool. A timer's callback wakes a
/// thread-pool worker, and a worker that runs out of work spins before it sleeps (which keeps a busy host's calls
/// free of sleep/wake system calls): with 4 Hz timers, an idle C# host context-switched ~930 times a second, 5
/// with its periodic checks here. Dispose stops the thread; a tick in progress finishes first.
/// </summary>
internal sealed class Ticker : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;

    /// <param name="name">The thread's name, as tools show it (at most 15 characters are kept on Linux).</param>
    /// <param name="period">Time between the end of one tick and the start of the next.</param>
    /// <param name="tick">The check; it returns false to stop ticking.</param>
    public Ticker(string name, TimeSpan period, Func<bool> tick)
    {
        var stopped = _stop.Token.WaitHandle;
        _thread = new Thread(() =>
        {
            while (!stopped.WaitOne(period) && tick())
            {
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        _thread.Start();
    }

    public void Dispose()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        _stop.Cancel();
        if (Thread.CurrentThread == _thread)
        {
            return; // from a tick: the loop ends after it, and still reads the wait handle
        }
        _thread.Join();
        _stop.Dispose();
    }
}
