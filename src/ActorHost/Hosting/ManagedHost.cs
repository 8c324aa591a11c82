#if NATIVE_HOST
using System.Runtime.InteropServices;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// The native host serves Python and sidecar actors itself; a C# actor needs the JIT (Roslyn compiles it, the runtime
/// loads it), so the native host replaces itself with the managed host published beside it (<c>managed/</c>), with
/// the same arguments and environment: same process, same PID, same signals.
/// </summary>
internal static partial class ManagedHost
{
    public static string Path => System.IO.Path.Combine(AppContext.BaseDirectory, "managed", "affinetes-host");

    /// <summary>Runs the managed host in this process; returns only when it cannot be run.</summary>
    public static unsafe int Exec(string[] args)
    {
        var path = Path;
        var argv = new nint[args.Length + 2];
        argv[0] = Marshal.StringToCoTaskMemUTF8(path);
        for (var i = 0; i < args.Length; i++)
        {
            argv[i + 1] = Marshal.StringToCoTaskMemUTF8(args[i]);
        }
        Console.Out.Flush();
        fixed (nint* pointers = argv)
        {
            ExecV(path, pointers);
        }
        var error = Marshal.GetLastPInvokeErrorMessage();
        Console.Error.WriteLine($"affinetes-host: a C# actor is served by the managed host, and {path} cannot be run: {error}");
        return 127;
    }

    [LibraryImport("libc", EntryPoint = "execv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int ExecV(string path, nint* argv);
}
#endif
