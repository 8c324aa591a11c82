using Python.Runtime;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>
/// Shuts the embedded interpreter down deliberately at exit: without it the process can hang on its way out.
/// Bounded, because a Python thread stuck in C code must not keep a stopped container alive.
/// </summary>
internal static class PythonEngineShutdown
{
    public static void Run(TimeSpan limit)
    {
        if (!PythonEngine.IsInitialized)
        {
            return;
        }
        var done = new Thread(() =>
        {
            try
            {
                PythonEngine.Shutdown();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.Error.WriteLine($"affinetes-host: Python shutdown: {e.Message}");
            }
        })
        { IsBackground = true, Name = "affinetes-python-shutdown" };
        done.Start();
        if (!done.Join(limit))
        {
            Console.Error.WriteLine($"affinetes-host: Python did not shut down within {limit.TotalSeconds:0} s; exiting anyway");
        }
    }
}
