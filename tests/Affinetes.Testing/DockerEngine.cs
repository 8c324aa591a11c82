using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.Testing;

/// <summary>
/// The machine's real Docker engine for end-to-end tests. Nothing here skips: when the engine does not answer,
/// the test fails with a message saying how to start it.
/// </summary>
public static class DockerEngine
{
    /// <summary>The base image <c>scripts/build-base-images.sh</c> builds with debootstrap.</summary>
    public const string PythonBaseImage = "affinetes/python:3.11-bookworm";

    /// <summary>Label put on every container a test starts, so a crashed run's leftovers can be found.</summary>
    public const string TestLabel = "affinetes.test";

    public static DockerClient CreateClient() =>
        new DockerClientBuilder().WithEndpoint(new Uri("unix:///var/run/docker.sock")).Build();

    /// <summary>Throws a clear error unless the engine answers and has <paramref name="image"/>.</summary>
    public static async Task RequireImageAsync(DockerClient client, string image)
    {
        try
        {
            await client.System.PingAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidOperationException(
                "The Docker engine does not answer on /var/run/docker.sock: run scripts/setup-machine.sh. " + e.Message, e);
        }
        try
        {
            await client.Images.InspectImageAsync(image);
        }
        catch (DockerImageNotFoundException e)
        {
            throw new InvalidOperationException($"Image {image} is missing: run scripts/build-base-images.sh.", e);
        }
    }

    /// <summary>
    /// Starts a container with <paramref name="containerPort"/> published on 127.0.0.1 at a port the engine picks;
    /// returns the container and that host port. Dispose the result to remove the container.
    /// </summary>
    public static async Task<RunningContainer> RunAsync(
        DockerClient client, string image, IList<string>? command, int containerPort, IDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        var port = $"{containerPort}/tcp";
        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = image,
            Cmd = command!,
            Env = environment?.Select(kv => $"{kv.Key}={kv.Value}").ToList()!,
            Labels = new Dictionary<string, string> { [TestLabel] = "true" },
            ExposedPorts = new Dictionary<string, EmptyStruct> { [port] = default },
            HostConfig = new HostConfig
            {
                AutoRemove = false,
                PortBindings = new Dictionary<string, IList<PortBinding>>
                {
                    [port] = [new PortBinding { HostIP = "127.0.0.1", HostPort = "" }],
                },
            },
        }, cancellationToken);
        var container = new RunningContainer(client, created.ID);
        try
        {
            await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), cancellationToken);
            var inspected = await client.Containers.InspectContainerAsync(created.ID, cancellationToken);
            var binding = inspected.NetworkSettings!.Ports![port][0];
            container.HostPort = int.Parse(binding.HostPort, System.Globalization.CultureInfo.InvariantCulture);
            return container;
        }
        catch
        {
            await container.DisposeAsync();
            throw;
        }
    }

/// <summary>
    /// Starts a container in the host's network namespace, so that it reaches servers the test runs on 127.0.0.1
    /// (a local LLM) and is reached on <paramref name="port"/> of 127.0.0.1: no bridge address is ever used.
    /// </summary>
    public static async Task<RunningContainer> RunOnHostNetworkAsync(
        DockerClient client, string image, int port, IDictionary<string, string>? environment = null, CancellationToken cancellationToken = default)
    {
        var env = new Dictionary<string, string>(environment ?? new Dictionary<string, string>())
        {
            ["AFFINETES_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["AFFINETES_BIND"] = "127.0.0.1",
        };
        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = image,
            Env = env.Select(kv => $"{kv.Key}={kv.Value}").ToList(),
            Labels = new Dictionary<string, string> { [TestLabel] = "true" },
            HostConfig = new HostConfig { NetworkMode = "host" },
        }, cancellationToken);
        var container = new RunningContainer(client, created.ID) { HostPort = port };
        try
        {
            await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), cancellationToken);
            return container;
        }
        catch
        {
            await container.DisposeAsync();
            throw;
        }
    }

    /// <summary>Removes an image a test built; "already gone" and "in use" are not the test's failure.</summary>
    public static async Task RemoveImageQuietlyAsync(DockerClient client, string image)
    {
        try
        {
            await client.Images.DeleteImageAsync(image, new ImageDeleteParameters { Force = true, NoPrune = true });
        }
        catch (DockerApiException)
        {
        }
    }

    /// <summary>Removes a container a test started, whatever its state; "already gone" is fine.</summary>
    public static async Task RemoveContainerQuietlyAsync(DockerClient client, string id)
    {
        try
        {
            await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
        }
        catch (DockerApiException)
        {
        }
    }

    /// <summary>
    /// The IPv4 address of the engine's default <c>bridge</c> network on the host: its <c>Gateway</c> when the engine
    /// reports one; else (Debian's docker.io 20.10 reports only the subnet) the address of the bridge's interface
    /// (<c>com.docker.network.bridge.name</c>, <c>docker0</c> by default), as the engine assigns it; else the subnet's
    /// first address, which is what the engine gives the bridge when it picks.
    /// </summary>
    public static async Task<string> BridgeGatewayAsync(DockerClient client)
    {
        var bridge = await client.Networks.InspectNetworkAsync("bridge");
        var configs = (bridge.IPAM?.Config ?? []).Where(c => !string.IsNullOrEmpty(c.Subnet) && !c.Subnet.Contains(':', StringComparison.Ordinal)).ToList();
        if ((bridge.IPAM?.Config ?? []).FirstOrDefault(c => !string.IsNullOrEmpty(c.Gateway) && !c.Gateway.Contains(':', StringComparison.Ordinal)) is { } withGateway)
        {
            return withGateway.Gateway;
        }
        var interfaceName = bridge.Options is not null && bridge.Options.TryGetValue("com.docker.network.bridge.name", out var named) ? named : "docker0";
        var onInterface = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .FirstOrDefault(n => n.Name == interfaceName)?.GetIPProperties().UnicastAddresses
            .FirstOrDefault(a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)?.Address;
        if (onInterface is not null)
        {
            return onInterface.ToString();
        }
        var subnet = configs.FirstOrDefault()?.Subnet
            ?? throw new InvalidOperationException("the engine's bridge network reports neither a gateway nor an IPv4 subnet");
        return FirstHostAddress(subnet);
    }

    /// <summary>The first host address of an IPv4 subnet: <c>172.17.0.0/16</c> gives <c>172.17.0.1</c>.</summary>
    public static string FirstHostAddress(string subnet)
    {
        var network = System.Net.IPNetwork.Parse(subnet);
        var bytes = network.BaseAddress.GetAddressBytes();
        var value = ((uint)bytes[0] << 24 | (uint)bytes[1] << 16 | (uint)bytes[2] << 8 | bytes[3]) + 1;
        return new System.Net.IPAddress([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]).ToString();
    }

    /// <summary>A port nothing listens on right now, on 127.0.0.1.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Polls the container's <c>/ready</c> on 127.0.0.1 until 200; fails with its logs if it never is.</summary>
    public static async Task WaitReadyAsync(RunningContainer container, TimeSpan? limit = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            await Bounded.Until(async () =>
            {
                try
                {
                    using var response = await http.GetAsync($"http://127.0.0.1:{container.HostPort}/ready");
                    return response.IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, limit ?? TimeSpan.FromSeconds(60), "the container becoming ready");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}; container log:\n{await container.LogsAsync()}", e);
        }
    }
}

/// <summary>Finds files of this repository from a test's output directory.</summary>
public static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(System.IO.Path.Combine(directory.FullName, "Affinetes.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("Affinetes.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A container started by a test; disposing removes it, whatever state it is in.</summary>
public sealed class RunningContainer(DockerClient client, string id) : IAsyncDisposable
{
    public string Id { get; } = id;
    public int HostPort { get; internal set; }

    public async Task<string> LogsAsync()
    {
        using var stream = await client.Containers.GetContainerLogsAsync(Id,
            new ContainerLogsParameters { ShowStdout = true, ShowStderr = true });
        var (stdout, stderr) = await stream.ReadOutputToEndAsync(CancellationToken.None);
        return stdout + stderr;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await client.Containers.RemoveContainerAsync(Id, new ContainerRemoveParameters { Force = true });
        }
        catch (DockerContainerNotFoundException)
        {
        }
    }
}
