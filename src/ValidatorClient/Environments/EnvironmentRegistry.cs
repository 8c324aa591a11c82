using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Affinetes.ValidatorClient.Environments;

/// <summary>
/// Every live environment of this process, so that <see cref="AffinetesClient.ReleaseEnvironmentsOnExit"/> can release
/// them on Ctrl+C, SIGTERM and process exit. Nothing is hooked unless that opt-in is called.
/// </summary>
internal static class TenantRegistry
{
    private static readonly ConcurrentDictionary<IAsyncDisposable, byte> Live = new();
    private static readonly Lock HookLock = new();
    private static readonly List<PosixSignalRegistration> Signals = [];
    private static TimeSpan? _limit;

    public static void Add(IAsyncDisposable environment) => Live[environment] = 0;

    public static void Remove(IAsyncDisposable environment) => Live.TryRemove(environment, out _);

    public static void HookProcessExit(TimeSpan limit)
    {
        lock (HookLock)
        {
            if (_limit is not null)
            {
                _limit = limit;
                return;
            }
            _limit = limit;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => ReleaseAll();
            foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            {
                Signals.Add(PosixSignalRegistration.Create(signal, _ => ReleaseAll()));
            }
        }
    }

    /// <summary>
    /// Releases everything, blocking the signal's thread up to the limit: the process is about to end, and this is the
    /// documented opt-in for blocking there.
    /// </summary>
    private static void ReleaseAll()
    {
        var all = Live.Keys.ToList();
        if (all.Count == 0)
        {
            return;
        }
        try
        {
            Task.WhenAll(all.Select(e => e.DisposeAsync().AsTask())).Wait(_limit ?? TimeSpan.FromSeconds(20));
        }
        catch (AggregateException)
        {
            // Releasing is best effort at exit; the leases and `afs cleanup` take care of what is left.
        }
    }
}
