using System.Diagnostics;
using System.Net;
using System.Text;

namespace Affinetes.Testing;

/// <summary>
/// The host as its own process, as it runs in a container: environment, stdout, signals, exit code. The test
/// project must reference src/ActorHost so that <c>affinetes-host</c> is in its output directory.
/// </summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private HostProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Port { get; }
    public HttpClient Client { get; }
    public Process Process => _process;

    /// <summary>The files the process has mapped now (<c>/proc/PID/maps</c>): which libraries and assemblies it loaded.</summary>
    public string MappedFiles => File.ReadAllText($"/proc/{_process.Id}/maps");

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public static HostProcess Start(IDictionary<string, string> environment, params string[] args) =>
        StartBinary(Path.Combine(AppContext.BaseDirectory, "affinetes-host"), environment, args);

    /// <summary>
    /// The published host (<c>scripts/publish-host.sh</c>, which the test command's set-up runs): the native
    /// <c>affinetes-host</c> with the managed host under <c>managed/</c>, as images carry them.
    /// </summary>
    public static string PublishedBinary
    {
        get
        {
            var path = Path.Combine(RepositoryRoot.Path, "artifacts", "host", "linux-x64", "affinetes-host");
            return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: run scripts/publish-host.sh");
        }
    }

    public static HostProcess StartBinary(string binary, IDictionary<string, string> environment, params string[] args)
    {
        var port = DockerEngine.FreeLoopbackPort();
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["AFFINETES_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["AFFINETES_BIND"] = "127.0.0.1";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        return new HostProcess(Process.Start(start)!, port);
    }

    public Task WaitReadyAsync(TimeSpan? limit = null) => Bounded.Until(async () =>
    {
        try
        {
            using var response = await Client.GetAsync("/health");
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }, limit ?? TimeSpan.FromSeconds(30), "the host process becoming ready");

    /// <summary>What <c>docker stop</c> sends.</summary>
    public void SendSigterm() => Signal("TERM");

    /// <summary>Kills the process at once, as a crash or <c>docker kill</c> would.</summary>
    public void SendSigkill() => Signal("KILL");

    private void Signal(string name)
    {
        using var kill = Process.Start("kill", [$"-{name}", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{name} {_process.Id} failed");
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan limit)
    {
        await _process.WaitForExitAsync().Within(limit, "the host process exiting");
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
