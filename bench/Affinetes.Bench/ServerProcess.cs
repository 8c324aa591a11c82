using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Affinetes.Bench;

/// <summary>A server under test as a separate process on 127.0.0.1, and the time from its start to its first answered call.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private ServerProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        // Read in large chunks, as a container runtime's log copier does: a line event per call line would cost this
        // process CPU (on the cores the server is measured on) for every call the server logs.
        _pumps = [Pump(process.StandardOutput.BaseStream), Pump(process.StandardError.BaseStream)];
    }

    private readonly Task[] _pumps;

    private Task Pump(Stream output) => Task.Run(async () =>
    {
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await output.ReadAsync(buffer)) > 0)
        {
            Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
    });

    public int Port { get; }
    public string BaseUrl => $"http://127.0.0.1:{Port}";
    public TimeSpan StartToFirstCall { get; private set; }

    /// <summary>The CPU the server had used when it answered its first call (user and system, all its threads).</summary>
    public TimeSpan CpuAtFirstCall { get; private set; }

    private void Append(string text)
    {
        lock (_log)
        {
            // Keep only the tail: the host logs a line per call.
            if (_log.Length > 64 * 1024)
            {
                _log.Remove(0, 32 * 1024);
            }
            _log.Append(text);
        }
    }

    public string LogTail()
    {
        lock (_log)
        {
            return _log.ToString();
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Starts <paramref name="start"/> and polls <paramref name="firstCallBody"/> on <paramref name="path"/> (or GETs
    /// <paramref name="readyGet"/>) until it answers 200.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(ProcessStartInfo start, int port, string firstCallBody, string path = "/call", string? readyGet = null)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        var server = new ServerProcess(Process.Start(start)!, port);
        var deadline = TimeSpan.FromSeconds(60);
        while (clock.Elapsed < deadline)
        {
            if (server._process.HasExited)
            {
                throw new InvalidOperationException($"{start.FileName} exited with {server._process.ExitCode}:\n{server.LogTail()}");
            }
            try
            {
                using var response = readyGet is null
                    ? await http.PostAsync(server.BaseUrl + path, new StringContent(firstCallBody, Encoding.UTF8, "application/json"))
                    : await http.GetAsync(server.BaseUrl + readyGet);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    server.StartToFirstCall = clock.Elapsed;
                    server.CpuAtFirstCall = server.CpuTime;
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(2);
        }
        await server.DisposeAsync();
        throw new TimeoutException($"{start.FileName} did not answer within {deadline.TotalSeconds} s");
    }

    /// <summary>CPU time the server process has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Context switches of each of the server's threads so far, by thread id (Linux: /proc/PID/task/*/status).</summary>
    public Dictionary<int, long> ContextSwitchesByThread()
    {
        var counts = new Dictionary<int, long>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{_process.Id}/task"))
        {
            try
            {
                counts[int.Parse(Path.GetFileName(task), System.Globalization.CultureInfo.InvariantCulture)] = File.ReadLines(Path.Combine(task, "status"))
                    .Where(l => l.Contains("ctxt_switches:", StringComparison.Ordinal))
                    .Sum(l => long.Parse(l[(l.IndexOf(':') + 1)..].Trim(), System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (IOException)
            {
                // the thread ended meanwhile
            }
        }
        return counts;
    }

    /// <summary>
    /// Context switches between two <see cref="ContextSwitchesByThread"/> readings, over the threads alive at both: a
    /// thread that ended meanwhile (an idle thread-pool worker retires) takes its count with it.
    /// </summary>
    public static long ContextSwitchesBetween(Dictionary<int, long> before, Dictionary<int, long> after) =>
        after.Sum(thread => before.TryGetValue(thread.Key, out var earlier) ? thread.Value - earlier : 0);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        await Task.WhenAll(_pumps);
        _process.Dispose();
    }
}
