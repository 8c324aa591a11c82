using System.ComponentModel;
using System.Diagnostics;

namespace Affinetes.ValidatorClient.Backends.Basilica;

/// <summary>
/// A process, as a deployment's note names its owner: the machine, the pid and when the process started (a pid is
/// reused; a pid with the same start time is the same process).
/// </summary>
/// <param name="Host">The machine's name (a state directory on a shared home is not read as another machine's processes).</param>
/// <param name="Pid">The process id.</param>
/// <param name="StartedAt">When the process started, as the system reports it.</param>
internal sealed record ProcessOwner(string Host, int Pid, DateTimeOffset StartedAt)
{
    /// <summary>This process.</summary>
    public static ProcessOwner Current { get; } = CurrentProcess();

    /// <summary>Whether the owner is a process of this machine that has ended (killed, crashed, or ended without deleting).</summary>
    public bool IsGoneFromThisMachine => Host == System.Environment.MachineName && !IsRunning();

    public override string ToString() => $"pid {Pid} on {Host}, started {StartedAt:u}";

    private bool IsRunning()
    {
        if (Pid == Current.Pid && Host == Current.Host)
        {
            return StartedAt == Current.StartedAt || Math.Abs((StartedAt - Current.StartedAt).TotalSeconds) < 1;
        }
        try
        {
            using var process = Process.GetProcessById(Pid);
            if (process.HasExited || IsZombie(Pid))
            {
                return false;
            }
            // Within a second: the start time is derived from clock ticks since boot and the boot time.
            return Math.Abs((new DateTimeOffset(process.StartTime.ToUniversalTime()) - StartedAt).TotalSeconds) < 1;
        }
        catch (ArgumentException)
        {
            return false; // no such process
        }
        catch (InvalidOperationException)
        {
            return false; // it ended while being looked at
        }
        catch (Win32Exception)
        {
            return true; // another user's process: not ours to judge, so it is taken as running
        }
    }

    /// <summary>A process killed but not reaped by its parent yet has ended all the same.</summary>
    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..];
            return state.StartsWith('Z') || state.StartsWith('X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    private static ProcessOwner CurrentProcess()
    {
        using var self = Process.GetCurrentProcess();
        return new ProcessOwner(System.Environment.MachineName, System.Environment.ProcessId, new DateTimeOffset(self.StartTime.ToUniversalTime()));
    }
}
