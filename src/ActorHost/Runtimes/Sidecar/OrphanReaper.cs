using System.Runtime.InteropServices;

namespace Affinetes.ActorHost.Runtimes.Sidecar;

/// <summary>
/// When the host is the container's PID 1, processes orphaned by the sidecar (its children, once it has died) are
/// re-parented to the host, and nobody else would wait for them: without this they stay zombies. On every SIGCHLD
/// it waits for exited children of the host that are not the sidecar itself (.NET waits for that one).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal static partial class OrphanReaper
{
    private static PosixSignalRegistration? _registration;

    /// <summary>Starts reaping if this process is PID 1; <paramref name="isOwnChild"/> names the pids .NET waits for.</summary>
    public static void StartIfInit(Func<int, bool> isOwnChild)
    {
        if (Environment.ProcessId != 1 || _registration is not null)
        {
            return;
        }
        _registration = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, _ =>
        {
            try
            {
                Reap(isOwnChild);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                // /proc changed under us or the sidecar's Process was disposed: the next SIGCHLD reaps what is left.
            }
        });
    }

    /// <summary>
    /// Stops reaping when the host shuts down (nothing needs reaping then): a handler running on the signal thread
    /// while the runtime tears itself down is the suspected cause of one SIGSEGV at exit (code 139) seen in CI.
    /// </summary>
    public static void Stop()
    {
        Interlocked.Exchange(ref _registration, null)?.Dispose();
    }

    /// <summary>Waits for every zombie child of this process except those <paramref name="isOwnChild"/> claims.</summary>
    public static int Reap(Func<int, bool> isOwnChild)
    {
        var reaped = 0;
        var self = Environment.ProcessId;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || isOwnChild(pid))
            {
                continue;
            }
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (IOException)
            {
                continue;
            }
            // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length > 1 && fields[0] == "Z" && int.TryParse(fields[1], out var parent) && parent == self
                && WaitPid(pid, out _, NoHang) == pid)
            {
                reaped++;
            }
        }
        return reaped;
    }

    private const int NoHang = 1;

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int WaitPid(int pid, out int status, int options);
}
