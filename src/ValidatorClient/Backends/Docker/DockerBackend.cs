using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Gateway;
using Affinetes.ValidatorClient.Telemetry;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Backends.Docker;

/// <summary>
/// Replicas as containers on one or more Docker engines: ports published on 127.0.0.1 only, labelled, no restart
/// policy, removed on dispose. Containers of an environment that removes what it starts (<see cref="EnvironmentOptions.Cleanup"/>)
/// also carry a lease: their host stops when this client stops renewing it, and the engine removes them (auto-remove),
/// so that a client killed with SIGKILL leaves nothing running. Their output is attached from the start and their
/// exit codes read from the engine's events, so that a replica that dies (and is removed at once) still says why.
/// </summary>
internal sealed class DockerBackend(EnvironmentOptions options, CpuQuantity? cpu, MemoryQuantity? memory, EngineCaps caps, ILogger logger, GatewayAccess? gateway = null) : IBackend
{
    private readonly NetworkIsolation _network = new(options, gateway);
    private readonly string _session = Guid.NewGuid().ToString("N")[..12];
    private readonly ConcurrentDictionary<string, Task<EngineConnection>> _engines = new();
    private readonly ConcurrentDictionary<string, ReplicaContainer> _containers = new();
    private readonly ConcurrentDictionary<string, EngineEvents> _events = new();
    private readonly CancellationTokenSource _stopping = new();
    private EngineConnection[] _engineList = [];
    private Dictionary<string, string> _imageIds = [];
    private readonly ConcurrentDictionary<string, ContainerProfile> _profiles = new();

    private sealed record ReplicaContainer(EngineConnection Engine, string ContainerId, string Name, int Index, bool StartedHere, ContainerOutput? Output);

    public string Name => "docker";

    public int ReplicaCount => options.Replicas;

    public bool CanReplace => !options.ConnectOnly;

    /// <summary>Whether containers get a lease (and auto-remove): those this client starts and removes.</summary>
    private bool Leased => options.Cleanup && !options.ConnectOnly;

    private Task<EngineConnection> EngineAsync(string spec, CancellationToken cancellationToken) =>
        _engines.GetOrAdd(spec, s => EngineConnection.ConnectAsync(s, options.Docker.SshConfigFile, cancellationToken));

    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        _engineList = await Task.WhenAll(options.Docker.Hosts.Distinct().Select(h => EngineAsync(h, cancellationToken)));
        if (options.ConnectOnly)
        {
            return;
        }
        var ids = await Task.WhenAll(_engineList.Select(async e => (e.Spec, Id: await EnsureImageAsync(e, cancellationToken))));
        _imageIds = ids.ToDictionary(x => x.Spec, x => x.Id);
        if (Leased)
        {
            foreach (var engine in _engineList)
            {
                _events[engine.Spec] = EngineEvents.Start(engine.Client, _session, _stopping.Token);
            }
        }
    }

    private async Task<string> EnsureImageAsync(EngineConnection engine, CancellationToken cancellationToken)
    {
        var image = options.Image!;
        var present = options.Docker.Pull == PullPolicy.Always ? null : await TryInspectImageAsync(engine, image, cancellationToken);
        if (present is null)
        {
            if (options.Docker.Pull == PullPolicy.Never)
            {
                throw new EnvironmentUnavailableException($"image {image} is not on {engine.Description} and pulling is off");
            }
            Log.PullingImage(logger, image, engine.Spec);
            var (repository, tag) = SplitReference(image);
            string? error = null;
            try
            {
                await engine.Client.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = tag }, null,
                    new InlineProgress<JSONMessage>(m => error ??= m.Error?.Message), cancellationToken);
            }
            catch (DockerApiException e)
            {
                error = EngineMessage(e.ResponseBody);
            }
            present = error is null ? await TryInspectImageAsync(engine, image, cancellationToken) : null;
            if (present is null)
            {
                throw new EnvironmentUnavailableException($"image {image} is not on {engine.Description} and could not be pulled", reason: error);
            }
        }
        if (present.Config?.Labels?.ContainsKey(ImageLabels.EnvType) != true)
        {
            // Nothing in it would answer the protocol: its container would run whatever it runs, or exit, and say nothing useful.
            throw new EnvironmentOptionsException(
                $"image {image} was not built by afs build (it has no {ImageLabels.EnvType} label), so nothing in it serves an environment; build it with: afs build DIR --tag {image}");
        }
        // The hardened profile depends on the image's own user (a root image runs as nobody unless told otherwise).
        _profiles[engine.Spec] = ContainerProfile.For(options.Docker.Hardening, cpu, memory, present.Config?.User);
        return present.ID;
    }

    /// <summary>The engine's error body in words: the <c>message</c> of its JSON (<c>{"message": "..."}</c>), else the body as sent.</summary>
    internal static string? EngineMessage(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
            {
                return message.GetString();
            }
        }
        catch (JsonException)
        {
            // not JSON: the body itself is the best account there is
        }
        return body.Trim();
    }

    /// <summary>
    /// <c>repo:tag</c>, <c>registry:5000/repo</c> (latest) or <c>repo@sha256:...</c> (pinned by digest, as validators
    /// name miners' images) as the engine's pull wants them: the repository, and the tag or the digest.
    /// </summary>
    internal static (string Repository, string Tag) SplitReference(string image)
    {
        var at = image.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            var named = image[..at];
            var digest = image[(at + 1)..];
            // repo:tag@sha256:... pins the digest; the tag is only a label then.
            var (repository, _) = SplitReference(named);
            return (repository, digest);
        }
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > slash ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    private static async Task<ImageInspectResponse?> TryInspectImageAsync(EngineConnection engine, string image, CancellationToken cancellationToken)
    {
        try
        {
            return await engine.Client.Images.InspectImageAsync(image, cancellationToken);
        }
        catch (DockerImageNotFoundException)
        {
            return null;
        }
    }

    private string ContainerName(int index)
    {
        if (options.ContainerName is { } name)
        {
            return index == 0 ? name : $"{name}-{index}";
        }
        var image = new string([.. (options.Image ?? "env").Split('/').Last().Select(c => char.IsLetterOrDigit(c) ? c : '-')]);
        return $"afs-{image}-{_session}-{index}";
    }

    private string SpecHash(string imageId, ContainerProfile profile)
    {
        var spec = new StringBuilder().Append(imageId).Append('\n').Append(profile.SpecText).Append('\n')
            .Append(cpu?.Millicores).Append('\n').Append(memory?.Bytes).Append('\n').Append(options.Docker.HostNetwork).Append('\n')
            .Append(Leased ? options.Lease.TotalSeconds : 0).Append('\n')
            .Append(options.AuthToken is null ? "" : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(options.AuthToken)))).Append('\n')
            .Append(_network.SpecText).Append('\n');
        foreach (var (key, value) in options.EnvVars.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            spec.Append(key).Append('=').Append(value).Append('\n');
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(spec.ToString())))[..32];
    }

    public async Task<ReplicaEndpoint> StartReplicaAsync(int index, CancellationToken cancellationToken)
    {
        var engine = _engineList[index % _engineList.Length];
        var name = ContainerName(index);
        var docker = engine.Client;
        var existing = await TryInspectContainerAsync(engine, name, cancellationToken);
        if (options.ConnectOnly)
        {
            if (existing is null || existing.State?.Running != true)
            {
                throw new EnvironmentUnavailableException($"no running container named {name} on {engine.Spec} to connect to");
            }
            return await EndpointAsync(Track(new ReplicaContainer(engine, existing.ID, name, index, StartedHere: false, Output: null)), cancellationToken);
        }
        var profile = _profiles[engine.Spec];
        var spec = SpecHash(_imageIds[engine.Spec], profile);
        if (existing is not null)
        {
            if (!(existing.Config?.Labels?.TryGetValue(ContainerLabels.Owner, out var owner) == true && owner == ContainerLabels.OwnerValue))
            {
                // Someone else's container (a database, another tool's): never replace it.
                throw new EnvironmentOptionsException($"a container named {name} already exists on {engine.Spec} and was not started by affinetes; choose another container name or remove it");
            }
            var matches = existing.Config.Labels!.TryGetValue(ContainerLabels.Spec, out var hash) && hash == spec;
            if (matches && existing.State?.Running == true && !options.Docker.ForceRecreate)
            {
                Log.ContainerReused(logger, name, engine.Spec);
                return await EndpointAsync(Track(new ReplicaContainer(engine, existing.ID, name, index, StartedHere: false, Output: null)), cancellationToken);
            }
            // Different image, environment or limits (or asked to): never silently reuse it.
            await RemoveContainerAsync(docker, existing.ID, CancellationToken.None);
        }

        var env = options.EnvVars.Select(kv => $"{kv.Key}={kv.Value}").Concat(profile.Environment(options.EnvVars)).ToList();
        if (options.AuthToken is { } token)
        {
            // Only the token's hash enters the container: the host verifies with it, the actor's code never sees the token.
            env.Add($"{HostEnvironment.AuthTokenSha256}={HostEnvironment.HashAuthToken(token)}");
        }
        if (options.MaxResultBytes > ResultLimits.DefaultMaxBytes)
        {
            // Smaller limits travel with each call; a larger one must raise the host's own.
            env.Add($"{HostEnvironment.MaxResultBytes}={options.MaxResultBytes.ToString(CultureInfo.InvariantCulture)}");
        }
        var labels = new Dictionary<string, string>
        {
            [ContainerLabels.Owner] = ContainerLabels.OwnerValue,
            [ContainerLabels.Name] = options.ContainerName ?? options.Image!,
            [ContainerLabels.Image] = options.Image!,
            [ContainerLabels.Session] = _session,
            [ContainerLabels.Created] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            [ContainerLabels.Replica] = index.ToString(CultureInfo.InvariantCulture),
            [ContainerLabels.Spec] = spec,
            [ContainerLabels.Relaxations] = profile.RelaxationsLabel,
            [ContainerLabels.Limits] = profile.LimitsLabel,
        };
        if (Leased)
        {
            var seconds = ((int)Math.Ceiling(options.Lease.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            env.Add($"{HostEnvironment.LeaseSeconds}={seconds}");
            labels[ContainerLabels.Lease] = seconds;
        }
        var hostConfig = new HostConfig
        {
            RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            AutoRemove = Leased,
        };
        profile.Apply(hostConfig);
        _network.Apply(name, hostConfig, env, localEngine: !engine.IsRemote);
        if (_network.Isolated)
        {
            // No network: nothing to publish; the client reaches the host through its socket (NetworkIsolation).
        }
        else if (options.Docker.HostNetwork)
        {
            var port = engine.IsRemote ? Random.Shared.Next(20000, 40000) : FreeLocalPort();
            hostConfig.NetworkMode = "host";
            env.Add($"{HostEnvironment.Port}={port.ToString(CultureInfo.InvariantCulture)}");
            env.Add($"{HostEnvironment.Bind}=127.0.0.1");
        }
        else
        {
            hostConfig.PortBindings = new Dictionary<string, IList<PortBinding>>
            {
                [HostEnvironment.ContainerPort] = [new PortBinding { HostIP = engine.PublishAddress, HostPort = "" }],
            };
        }
        var createRequest = new CreateContainerParameters
        {
            Name = name,
            Image = options.Image!,
            Env = env,
            ExposedPorts = new Dictionary<string, EmptyStruct> { [HostEnvironment.ContainerPort] = default },
            Labels = labels,
            HostConfig = hostConfig,
            User = profile.User ?? "", // empty: the image's own user
        };
        var created = await caps.CreateAsync(engine, () =>
        {
            labels[ContainerLabels.Created] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture); // after any wait for the creation rate
            return Settled.WaitAsync(docker.Containers.CreateContainerAsync(createRequest, CancellationToken.None), cancellationToken);
        }, logger, cancellationToken);
        Log.ContainerCreated(logger, name, engine.Spec, profile.Summary);
        if (profile.Relaxations.Count > 0)
        {
            Log.ContainerRelaxed(logger, name, engine.Spec, profile.RelaxationsLabel);
        }
        // Attached before it starts: a container that dies at once (and is auto-removed) still leaves its words here.
        var output = Leased ? await ContainerOutput.AttachAsync(docker, created.ID, _stopping.Token) : null;
        var container = Track(new ReplicaContainer(engine, created.ID, name, index, StartedHere: true, output));
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Settled.WaitAsync(StartAsync(docker, created.ID), cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            return await EndpointAsync(container, cancellationToken);
        }
        catch
        {
            await RemoveAsync(container);
            throw;
        }
    }

    private ReplicaContainer Track(ReplicaContainer container)
    {
        _containers[container.ContainerId] = container;
        return container;
    }

    private static async Task<bool> StartAsync(DockerClient docker, string containerId)
    {
        await docker.Containers.StartContainerAsync(containerId, new ContainerStartParameters(), CancellationToken.None);
        return true;
    }

    private static int FreeLocalPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Where the container's host answers, as reached from here.</summary>
    private async Task<ReplicaEndpoint> EndpointAsync(ReplicaContainer container, CancellationToken cancellationToken)
    {
        ContainerInspectResponse inspected;
        try
        {
            inspected = await container.Engine.Client.Containers.InspectContainerAsync(container.ContainerId, cancellationToken);
        }
        catch (DockerContainerNotFoundException)
        {
            // It died at once and was auto-removed before this look: its exit code is in the engine's events, its
            // last words in the output attached before it started.
            throw (await DiagnoseAsync(container, null, cancellationToken))!;
        }
        if (NetworkIsolation.SocketEndpoint(inspected) is { } socket)
        {
            return new ReplicaEndpoint(container.ContainerId, socket, container.Name);
        }
        int port;
        if (inspected.HostConfig?.NetworkMode == "host")
        {
            var prefix = HostEnvironment.Port + "=";
            var env = inspected.Config?.Env?.FirstOrDefault(e => e.StartsWith(prefix, StringComparison.Ordinal));
            port = env is null ? HostEnvironment.DefaultPort : int.Parse(env[prefix.Length..], CultureInfo.InvariantCulture);
        }
        else if (inspected.NetworkSettings?.Ports?.TryGetValue(HostEnvironment.ContainerPort, out var bindings) == true && bindings is { Count: > 0 })
        {
            port = int.Parse(bindings[0].HostPort, CultureInfo.InvariantCulture);
        }
        else if (inspected.State?.Running != true)
        {
            throw await DiagnoseAsync(container, inspected, cancellationToken)
                ?? new EnvironmentUnavailableException($"container {container.Name} stopped before it published its port");
        }
        else
        {
            throw new EnvironmentUnavailableException($"container {container.Name} publishes no port for {HostEnvironment.ContainerPort}");
        }
        var reached = await container.Engine.ReachAsync(port, cancellationToken);
        if (container.StartedHere && !container.Engine.IsRemote && NetworkIsolation.SocketBesidePort(inspected) is { } beside)
        {
            UnixSocketEndpoints.AddShortcut(reached, beside); // the port stays its address; our calls skip docker-proxy
        }
        return new ReplicaEndpoint(container.ContainerId, reached, container.Engine.Spec is "local" ? container.Name : $"{container.Name}@{container.Engine.Spec}");
    }

    private static async Task<bool> ExistsAsync(DockerClient docker, string containerId, CancellationToken cancellationToken)
    {
        try
        {
            await docker.Containers.InspectContainerAsync(containerId, cancellationToken);
            return true;
        }
        catch (DockerContainerNotFoundException)
        {
            return false;
        }
    }

    private static async Task<ContainerInspectResponse?> TryInspectContainerAsync(EngineConnection engine, string nameOrId, CancellationToken cancellationToken)
    {
        try
        {
            return await engine.Client.Containers.InspectContainerAsync(nameOrId, cancellationToken);
        }
        catch (DockerContainerNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// The same failure saying which relaxation of the hardened profile its words point at (a write on the read-only
    /// root, a file only root may read ...); null when they point at none.
    /// </summary>
    public EnvironmentUnavailableException? ExplainHardening(EnvironmentUnavailableException failure)
    {
        var hint = _profiles.Values.Select(p => p.Hint($"{failure.Reason}\n{failure.LogTail}")).FirstOrDefault(h => h is not null);
        return hint is null ? null
            : new EnvironmentUnavailableException(failure.Description, failure.ExitCode, failure.LogTail, failure.Reason is null ? hint : $"{failure.Reason}; {hint}", failure);
    }

    public async Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaEndpoint replica, CancellationToken cancellationToken)
    {
        if (!_containers.TryGetValue(replica.Id, out var container))
        {
            return null;
        }
        var inspected = await TryInspectContainerAsync(container.Engine, container.ContainerId, cancellationToken);
        return await DiagnoseAsync(container, inspected, cancellationToken);
    }

    private async Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaContainer container, ContainerInspectResponse? inspected, CancellationToken cancellationToken)
    {
        if (inspected?.State?.Running == true)
        {
            return null;
        }
        var exitCode = inspected?.State?.ExitCode;
        if (_events.TryGetValue(container.Engine.Spec, out var events))
        {
            // An auto-removed container is gone from the engine: its exit code is in the engine's events.
            exitCode ??= await events.ExitCodeAsync(container.ContainerId, TimeSpan.FromSeconds(2), cancellationToken);
        }
        var tail = container.Output is { } output ? output.Tail() : inspected is null ? "" : await LogTailAsync(container, 20, cancellationToken);
        return inspected is null && exitCode is null
            ? new EnvironmentUnavailableException($"container {container.Name} was removed", logTail: tail)
            : new EnvironmentUnavailableException($"container {container.Name} ({options.Image}) stopped", exitCode, tail);
    }

    private static async Task<string> LogTailAsync(ReplicaContainer container, int lines, CancellationToken cancellationToken)
    {
        try
        {
            var tail = new List<string>();
            await foreach (var line in ContainerLogs.ReadAsync(container.Engine.Client, container.ContainerId, follow: false, lines, cancellationToken))
            {
                tail.Add(line);
            }
            return string.Join('\n', tail).Trim();
        }
        catch (DockerApiException)
        {
            return "";
        }
    }

    public async Task RemoveReplicaAsync(ReplicaEndpoint replica, CancellationToken cancellationToken)
    {
        if (_containers.TryGetValue(replica.Id, out var container))
        {
            await RemoveAsync(container);
        }
    }

    public IAsyncEnumerable<string> ReadLogsAsync(ReplicaEndpoint replica, bool follow, CancellationToken cancellationToken) =>
        _containers.TryGetValue(replica.Id, out var container)
            ? ContainerLogs.ReadAsync(container.Engine.Client, container.ContainerId, follow, tail: null, cancellationToken)
            : AsyncEnumerable.Empty<string>();

    private async Task RemoveAsync(ReplicaContainer container)
    {
        if (!_containers.TryRemove(container.ContainerId, out _) || !container.StartedHere)
        {
            return;
        }
        await RemoveContainerAsync(container.Engine.Client, container.ContainerId, CancellationToken.None);
        caps.Release(container.ContainerId);
        container.Output?.Dispose();
        _network.Release(container.Name);
    }

    /// <summary>Removes a container and returns once it is gone (an auto-removed one may be on its way out already).</summary>
    private async Task RemoveContainerAsync(DockerClient docker, string containerId, CancellationToken cancellationToken)
    {
        try
        {
            await docker.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true }, cancellationToken);
        }
        catch (DockerContainerNotFoundException)
        {
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
        {
            // Its engine is removing it already (auto-remove of a container that just stopped): wait until it is gone.
            for (var waited = 0; waited < 100 && await ExistsAsync(docker, containerId, cancellationToken); waited++)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException)
        {
            Log.ContainerRemoveFailed(logger, containerId[..Math.Min(12, containerId.Length)], e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (options.Cleanup)
        {
            await Task.WhenAll(_containers.Values.Where(c => c.StartedHere).Select(async c =>
            {
                try
                {
                    // Calls in flight get a moment to finish (the host drains on SIGTERM), then the container goes.
                    await c.Engine.Client.Containers.StopContainerAsync(c.ContainerId, new ContainerStopParameters { WaitBeforeKillSeconds = 5 }, CancellationToken.None);
                }
                catch (DockerApiException)
                {
                }
                await RemoveAsync(c);
            }));
        }
        await _stopping.CancelAsync();
        foreach (var container in _containers.Values)
        {
            container.Output?.Dispose();
            caps.Release(container.ContainerId); // left running on purpose (no cleanup): no longer this client's to count
        }
        _containers.Clear();
        foreach (var events in _events.Values)
        {
            await events.DisposeAsync();
        }
        foreach (var engine in _engines.Values.Where(t => t.IsCompletedSuccessfully))
        {
            await engine.Result.DisposeAsync();
        }
        _stopping.Dispose();
        _network.Dispose();
    }

    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
