using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Affinetes.ValidatorClient.Environments;
using Docker.DotNet;

namespace Affinetes.ValidatorClient.Backends.Docker;

/// <summary>
/// One Docker engine and how its containers' published ports are reached from here. Local and <c>tcp://</c>
/// engines are reached directly; <c>ssh://user@host</c> engines through the system ssh client: one master
/// connection forwards the engine's socket and, per container, its port published on the remote 127.0.0.1.
/// </summary>
internal sealed class EngineConnection : IAsyncDisposable
{
    private readonly SshTunnel? _tunnel;

    private EngineConnection(string spec, DockerClient client, string publishAddress, string reachAddress, SshTunnel? tunnel)
    {
        Spec = spec;
        Client = client;
        PublishAddress = publishAddress;
        ReachAddress = reachAddress;
        _tunnel = tunnel;
    }

    /// <summary>The host as given: <c>local</c>, <c>unix:///...</c>, <c>tcp://...</c>, <c>ssh://...</c>.</summary>
    public string Spec { get; }

    /// <summary>The engine in a sentence: "the local engine", or "the engine ssh://..." as given.</summary>
    public string Description => Spec is "local" or "localhost" or "" ? "the local engine" : $"the engine {Spec}";

    public DockerClient Client { get; }

    /// <summary>Address the engine publishes container ports on (127.0.0.1 unless the engine is a remote tcp:// one).</summary>
    public string PublishAddress { get; }

    private string ReachAddress { get; }

    public bool IsRemote => _tunnel is not null || ReachAddress != "127.0.0.1";

    /// <summary>Connects to <paramref name="spec"/>; <paramref name="sshConfigFile"/> is passed to ssh as <c>-F</c>.</summary>
    public static async Task<EngineConnection> ConnectAsync(string spec, string? sshConfigFile, CancellationToken cancellationToken)
    {
        if (spec is "local" or "localhost" or "")
        {
            return new EngineConnection(spec, Create("unix:///var/run/docker.sock"), "127.0.0.1", "127.0.0.1", null);
        }
        if (spec.StartsWith("unix://", StringComparison.Ordinal))
        {
            return new EngineConnection(spec, Create(spec), "127.0.0.1", "127.0.0.1", null);
        }
        if (spec.StartsWith("tcp://", StringComparison.Ordinal))
        {
            var host = new Uri(spec).Host;
            var loopback = IPAddress.TryParse(host, out var ip) ? IPAddress.IsLoopback(ip) : host == "localhost";
            return new EngineConnection(spec, Create(spec), loopback ? "127.0.0.1" : "0.0.0.0", loopback ? "127.0.0.1" : host, null);
        }
        if (spec.StartsWith("ssh://", StringComparison.Ordinal))
        {
            var tunnel = await SshTunnel.OpenAsync(spec, sshConfigFile, cancellationToken);
            return new EngineConnection(spec, Create("unix://" + tunnel.DockerSocket), "127.0.0.1", "127.0.0.1", tunnel);
        }
        throw new EnvironmentOptionsException($"docker host '{spec}' is not one of: local, unix:///path, tcp://host:port, ssh://user@host[:port]");
    }

    private static DockerClient Create(string endpoint) =>
        new DockerClientBuilder().WithEndpoint(new Uri(endpoint)).WithTimeout(TimeSpan.FromMinutes(5)).Build();

    /// <summary>The URL at which a port the engine published (on its <see cref="PublishAddress"/>) is reached from here.</summary>
    public async Task<Uri> ReachAsync(int publishedPort, CancellationToken cancellationToken)
    {
        var port = _tunnel is null ? publishedPort : await _tunnel.ForwardAsync(publishedPort, cancellationToken);
        return new Uri($"http://{ReachAddress}:{port.ToString(CultureInfo.InvariantCulture)}/");
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (_tunnel is not null)
        {
            await _tunnel.DisposeAsync();
        }
    }
}

/// <summary>An ssh master connection (system ssh client) forwarding a remote Docker socket and published ports.</summary>
internal sealed class SshTunnel : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string _control;
    private readonly string _target;
    private readonly List<string> _baseArgs;
    private readonly Process _master;

    private SshTunnel(string directory, string target, List<string> baseArgs, Process master)
    {
        _directory = directory;
        _control = Path.Combine(directory, "control");
        _target = target;
        _baseArgs = baseArgs;
        _master = master;
    }

    public string DockerSocket => Path.Combine(_directory, "docker.sock");

    public static async Task<SshTunnel> OpenAsync(string spec, string? configFile, CancellationToken cancellationToken)
    {
        var uri = new Uri(spec);
        if (string.IsNullOrEmpty(uri.UserInfo))
        {
            throw new EnvironmentOptionsException($"docker host '{spec}' names no user; use ssh://user@host[:port]");
        }
        var directory = Directory.CreateTempSubdirectory("affinetes-ssh-").FullName;
        var baseArgs = new List<string> { "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-o", "ConnectTimeout=10" };
        if (configFile is not null)
        {
            baseArgs.InsertRange(0, ["-F", configFile]);
        }
        if (uri.Port > 0)
        {
            baseArgs.AddRange(["-p", uri.Port.ToString(CultureInfo.InvariantCulture)]);
        }
        var target = $"{uri.UserInfo}@{uri.Host}";
        var start = new ProcessStartInfo("ssh") { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var arg in baseArgs.Concat(["-M", "-S", Path.Combine(directory, "control"), "-nNT", "-L", $"{Path.Combine(directory, "docker.sock")}:/var/run/docker.sock", target]))
        {
            start.ArgumentList.Add(arg);
        }
        Process master;
        try
        {
            master = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Directory.Delete(directory, recursive: true);
            throw new EnvironmentOptionsException($"ssh:// docker hosts need the ssh client: {e.Message} (apt-get install -y openssh-client)");
        }
        var tunnel = new SshTunnel(directory, target, baseArgs, master);
        var clock = Stopwatch.StartNew();
        while (!File.Exists(tunnel.DockerSocket))
        {
            if (master.HasExited || clock.Elapsed > TimeSpan.FromSeconds(20))
            {
                var error = master.HasExited ? (await master.StandardError.ReadToEndAsync(cancellationToken)).Trim() : "no forwarded socket after 20 s";
                await tunnel.DisposeAsync();
                throw new EnvironmentUnavailableException($"cannot reach the docker engine at {spec} over ssh", reason: error);
            }
            await Task.Delay(50, cancellationToken);
        }
        return tunnel;
    }

    /// <summary>Forwards a free local port to the remote 127.0.0.1:<paramref name="remotePort"/>; returns the local port.</summary>
    public async Task<int> ForwardAsync(int remotePort, CancellationToken cancellationToken)
    {
        int local;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            local = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var start = new ProcessStartInfo("ssh") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in _baseArgs.Concat(["-S", _control, "-O", "forward", "-L", $"127.0.0.1:{local}:127.0.0.1:{remotePort}", _target]))
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new EnvironmentUnavailableException($"cannot forward port {remotePort} from {_target}", reason: (await process.StandardError.ReadToEndAsync(cancellationToken)).Trim());
        }
        return local;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_master.HasExited)
        {
            _master.Kill(entireProcessTree: true);
            await _master.WaitForExitAsync();
        }
        _master.Dispose();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
