using Affinetes.ActorHost.Runtimes.Python.Interop;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>The one embedded interpreter of the process: started once, by whichever runtime comes first.</summary>
internal static class PythonInterpreter
{
    private static readonly Lock StartLock = new();
    private static PythonInstallation? _started;

    /// <summary>Loads <paramref name="installation"/>'s libpython and starts it, unless the process already has one running.</summary>
    public static unsafe void EnsureStarted(PythonInstallation installation)
    {
        lock (StartLock)
        {
            if (_started is not null)
            {
                return;
            }
            try
            {
                CPython.Load(installation.LibraryPath);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
            {
                throw new RuntimeNotInstalledException($"CPython {installation.Version} from {installation.LibraryPath} cannot be loaded: {e.Message}", e);
            }
            if (CPython.Py_IsInitialized() == 0)
            {
                CPython.SetHome(installation.Home);
                // 0: no Python signal handlers; SIGTERM and SIGINT stay the host's.
                CPython.Py_InitializeEx(0);
                if (CPython.Py_IsInitialized() == 0)
                {
                    throw new ActorStartupException($"CPython {installation.Version} from {installation.LibraryPath} failed to start");
                }
                // The starting thread lets go of the GIL: every thread, this one included, takes it when it enters Python.
                CPython.PyEval_SaveThread();
            }
            _started = installation;
        }
    }

    /// <summary>Whether an interpreter runs in this process.</summary>
    public static bool IsStarted => _started is not null;
}
