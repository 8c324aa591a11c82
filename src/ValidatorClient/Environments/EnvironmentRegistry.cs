using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Affinetes.ValidatorClient.Environments;

/// <summary>
/// Every live environment of this process, released on Ctrl+C, SIGTERM and normal exit, so that a validator that is
/// stopped does not leave containers behind (those with cleanup off are kept on purpose).
/// </summary>
internal static class EnvironmentRegistry
{
    private static readonly ConcurrentDictionary<IAsyncDisposable, byte> Live = new();
    private static readonly Lock HookLock = new();
    private static readonly List<PosixSignalRegistration> Signals = [];
    private static bool _hooked;

    public static void Add(IAsyncDisposable environment)
    {
        Live[environment] = 0;
        lock (HookLock)
        {
            if (_hooked)
            {
                return;
            }
            _hooked = true;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => ReleaseAll();
            foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            {
                Signals.Add(PosixSignalRegistration.Create(signal, _ => ReleaseAll()));
            }
        }
    }

    public static void Remove(IAsyncDisposable environment) => Live.TryRemove(environment, out _);

    private static void ReleaseAll()
    {
        var all = Live.Keys.ToList();
        if (all.Count == 0)
        {
            return;
        }
        try
        {
            Task.WhenAll(all.Select(e => e.DisposeAsync().AsTask())).Wait(TimeSpan.FromSeconds(20));
        }
        catch (AggregateException)
        {
            // Releasing is best effort at exit; `afs cleanup` finds anything left by its labels.
        }
    }
}
