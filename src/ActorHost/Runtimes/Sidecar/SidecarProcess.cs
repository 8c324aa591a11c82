using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Affinetes.ActorHost.Runtimes.Sidecar;

/// <summary>
/// One run of the sidecar's command as a child process: its output copied to the host's (the container log) and
/// its last lines kept for error reasons; stopped with SIGTERM, then killed with its whole tree after a grace period.
/// </summary>
internal sealed partial class SidecarProcess : IDisposable
{
    private const int TailLines = 20;
    private readonly Process _process;
    private readonly Queue<string> _tail = new();
    private readonly Task _pumps;

    private SidecarProcess(Process process)
    {
        _process = process;
        _pumps = Task.WhenAll(PumpAsync(process.StandardOutput, Console.Out), PumpAsync(process.StandardError, Console.Error));
        Exited = ExitAsync();
    }

    public int Id => _process.Id;

    /// <summary>Completes with the exit code once the process has exited and its output is drained.</summary>
    public Task<int> Exited { get; }

    /// <summary>The last lines the process wrote (stdout and stderr), oldest first.</summary>
    public string Tail
    {
        get
        {
            lock (_tail)
            {
                return string.Join('\n', _tail);
            }
        }
    }

    /// <summary>Starts <paramref name="command"/>; throws <see cref="ActorStartupException"/> when it cannot run at all.</summary>
    public static SidecarProcess Start(IReadOnlyList<string> command, IReadOnlyDictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo(command[0])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // the child never reads the host's terminal
        };
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }
        try
        {
            var process = Process.Start(start) ?? throw new ActorStartupException($"the sidecar command '{command[0]}' did not start");
            process.StandardInput.Close();
            return new SidecarProcess(process);
        }
        catch (Win32Exception e)
        {
            throw new ActorStartupException($"the sidecar command '{string.Join(' ', command)}' cannot be started: {e.Message}; check the command in sidecar.json (or the image's CMD)", e);
        }
    }

    private async Task PumpAsync(StreamReader from, TextWriter to)
    {
        while (await from.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            lock (_tail)
            {
                _tail.Enqueue(line);
                if (_tail.Count > TailLines)
                {
                    _tail.Dequeue();
                }
            }
            await to.WriteLineAsync(line).ConfigureAwait(false);
        }
    }

    private async Task<int> ExitAsync()
    {
        await _process.WaitForExitAsync().ConfigureAwait(false);
        await _pumps.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false); // a grandchild may hold the pipes open
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, then SIGKILL to the whole tree if it has not exited within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }
        _ = SendSignal(_process.Id, Sigterm);
        try
        {
            await _process.WaitForExitAsync().WaitAsync(grace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Kill();
        }
    }

    /// <summary>Kills the process and everything it started, at once.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private const int Sigterm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
