using Affinetes.Injector.Building;
using Affinetes.Injector.Sources;
using Affinetes.Testing;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>
/// For the network tests: the python-arith example and the probing environment, built once; a Docker network of the
/// tests' own with a TCP server container on it (what an isolated container must not reach); the host's address on
/// the default bridge (where an open container reaches the host's services).
/// </summary>
public sealed class NetworkIsolationFixture : IAsyncLifetime
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-net-images-");
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..10];
    private string? _networkId;
    private string? _serverId;

    public DockerClient Docker { get; } = DockerEngine.CreateClient();

    public string ArithImage => $"affinetes-test/net-arith:{_suffix}";

    public string ProbeImage => $"affinetes-test/net-probe:{_suffix}";

    /// <summary>The tests' own network.</summary>
    public string NetworkName => $"affinetes-test-net-{_suffix}";

    /// <summary>The server container's address on <see cref="NetworkName"/>; it listens on <see cref="ServerPort"/>.</summary>
    public string ServerAddress { get; private set; } = "";

    public const int ServerPort = 8080;

    /// <summary>The host's address on the default bridge (the bridge network's gateway).</summary>
    public string BridgeGateway { get; private set; } = "";

    public async Task InitializeAsync()
    {
        await DockerEngine.RequireImageAsync(Docker, DockerEngine.PythonBaseImage);
        var builder = new ImageBuilder(Docker);
        await Build(builder, Path.Combine(RepositoryRoot.Path, "environments", "python-arith"), ArithImage);
        var probe = Path.Combine(_work.FullName, "probe");
        Directory.CreateDirectory(probe);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Envs", "netprobe_env.py"), Path.Combine(probe, "env.py"));
        File.WriteAllText(Path.Combine(probe, "Dockerfile"), "FROM python:3.11-slim\nCOPY env.py /app/env.py\n");
        await Build(builder, probe, ProbeImage);

        _networkId = (await Docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
        {
            Name = NetworkName,
            Labels = new Dictionary<string, string> { [DockerEngine.TestLabel] = "true" },
        })).ID;
        var server = await Docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = DockerEngine.PythonBaseImage,
            Cmd = ["python3", "-m", "http.server", ServerPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "0.0.0.0"],
            Labels = new Dictionary<string, string> { [DockerEngine.TestLabel] = "true" },
            HostConfig = new HostConfig { NetworkMode = NetworkName },
        });
        _serverId = server.ID;
        await Docker.Containers.StartContainerAsync(server.ID, new ContainerStartParameters());
        var inspected = await Docker.Containers.InspectContainerAsync(server.ID);
        ServerAddress = inspected.NetworkSettings!.Networks[NetworkName].IPAddress;
        BridgeGateway = await DockerEngine.BridgeGatewayAsync(Docker);
    }

    private static Task Build(ImageBuilder builder, string directory, string tag) =>
        builder.BuildAsync(EnvironmentSource.Parse(directory), new BuildOptions { Tag = tag, Quiet = true }).Within(TimeSpan.FromMinutes(5), $"building {tag}");

    /// <summary>
    /// Runs a one-shot Python probe in a container on the tests' network: its exit code (0 when it connected to the
    /// server), which shows the server is there to be reached.
    /// </summary>
    public async Task<long> ConnectFromTestNetworkAsync()
    {
        var created = await Docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = DockerEngine.PythonBaseImage,
            Cmd = ["python3", "-c", $"import socket; socket.create_connection(('{ServerAddress}', {ServerPort}), timeout=5).close()"],
            Labels = new Dictionary<string, string> { [DockerEngine.TestLabel] = "true" },
            HostConfig = new HostConfig { NetworkMode = NetworkName },
        });
        try
        {
            await Docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
            var exit = await Docker.Containers.WaitContainerAsync(created.ID).Within(TimeSpan.FromSeconds(30), "the probe container");
            return exit.StatusCode;
        }
        finally
        {
            await DockerEngine.RemoveContainerQuietlyAsync(Docker, created.ID);
        }
    }

    public async Task DisposeAsync()
    {
        if (_serverId is not null)
        {
            await DockerEngine.RemoveContainerQuietlyAsync(Docker, _serverId);
        }
        if (_networkId is not null)
        {
            try
            {
                await Docker.Networks.DeleteNetworkAsync(_networkId);
            }
            catch (DockerApiException)
            {
            }
        }
        await DockerEngine.RemoveImageQuietlyAsync(Docker, ArithImage);
        await DockerEngine.RemoveImageQuietlyAsync(Docker, ProbeImage);
        Docker.Dispose();
        _work.Delete(recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class NetworkIsolationCollection : ICollectionFixture<NetworkIsolationFixture>
{
    public const string Name = "client-network";
}
