using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Pooling;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.ValidatorClient.Backends.Docker;

/// <summary>Labels on every container a validator starts, so that <c>afs ps</c> and <c>afs cleanup</c> find them.</summary>
public static class ContainerLabels
{
    public const string Owner = "affinetes.owner";
    public const string OwnerValue = "affinetes-validator";
    public const string Name = "affinetes.name";
    public const string Image = "affinetes.image";
    public const string Session = "affinetes.session";
    public const string Created = "affinetes.created";
    public const string Replica = "affinetes.replica";
    /// <summary>Hash of image, environment variables and limits: a reused container must match it.</summary>
    public const string Spec = "affinetes.spec";
    public const string ContainerPort = "8000/tcp";
}

/// <summary>
/// Replicas as containers on one or more Docker engines: ports published on 127.0.0.1 only, labelled, no restart
/// policy, started concurrently, readiness bounded and watching the container, removed on dispose.
/// </summary>
internal sealed class DockerBackend(EnvironmentOptions options, CpuQuantity? cpu, MemoryQuantity? memory, HttpClient http) : IBackend
{
    private readonly string _session = Guid.NewGuid().ToString("N")[..12];
    private readonly ConcurrentDictionary<string, Task<EngineConnection>> _engines = new();
    private readonly ConcurrentDictionary<string, ReplicaContainer> _containers = new();

    private sealed record ReplicaContainer(EngineConnection Engine, string ContainerId, string Name, int Index, bool StartedHere);

    public string Name => "docker";

    private Task<EngineConnection> EngineAsync(string spec, CancellationToken cancellationToken) =>
        _engines.GetOrAdd(spec, s => EngineConnection.ConnectAsync(s, options.SshConfigFile, cancellationToken));

    public async Task<IReadOnlyList<ReplicaEndpoint>> ProvisionAsync(CancellationToken cancellationToken)
    {
        var engines = await Task.WhenAll(options.Hosts.Distinct().Select(h => EngineAsync(h, cancellationToken)));
        var imageIds = options.ConnectOnly
            ? engines.ToDictionary(e => e.Spec, _ => "")
            : (await Task.WhenAll(engines.Select(async e => (e.Spec, Id: await EnsureImageAsync(e, cancellationToken))))).ToDictionary(x => x.Spec, x => x.Id);
        var starts = Enumerable.Range(0, options.Replicas).Select(i =>
        {
            var engine = engines[i % engines.Length];
            return StartReplicaAsync(engine, i, imageIds[engine.Spec], cancellationToken);
        }).ToList();
        try
        {
            return await Task.WhenAll(starts);
        }
        catch
        {
            // Nothing is left running when the environment cannot start as asked.
            await Task.WhenAll(starts.Where(s => s.IsCompletedSuccessfully).Select(s => RemoveAsync(s.Result.Id)));
            var failure = starts.Select(s => s.Exception?.InnerException).FirstOrDefault(e => e is AffinetesException)
                ?? starts.FirstOrDefault(s => s.IsFaulted)?.Exception!.InnerException;
            if (failure is null)
            {
                throw; // every start was cancelled: the caller's cancellation, as it came
            }
            ExceptionDispatchInfo.Throw(failure);
            throw;
        }
    }

    private async Task<string> EnsureImageAsync(EngineConnection engine, CancellationToken cancellationToken)
    {
        var image = options.Image!;
        if (options.Pull != PullPolicy.Always && await TryInspectImageAsync(engine, image, cancellationToken) is { } present)
        {
            return present;
        }
        if (options.Pull == PullPolicy.Never)
        {
            throw new EnvironmentUnavailableException($"image {image} is not on the engine {engine.Spec} and pulling is off");
        }
        var (repository, tag) = SplitReference(image);
        string? error = null;
        try
        {
            await engine.Client.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = tag }, null,
                new InlineProgress<JSONMessage>(m => error ??= m.Error?.Message), cancellationToken);
        }
        catch (DockerApiException e)
        {
            error = e.ResponseBody?.Trim();
        }
        return error is null && await TryInspectImageAsync(engine, image, cancellationToken) is { } pulled
            ? pulled
            : throw new EnvironmentUnavailableException($"image {image} is not on the engine {engine.Spec} and could not be pulled", reason: error);
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

    private static async Task<string?> TryInspectImageAsync(EngineConnection engine, string image, CancellationToken cancellationToken)
    {
        try
        {
            return (await engine.Client.Images.InspectImageAsync(image, cancellationToken)).ID;
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

    private string SpecHash(string imageId)
    {
        var spec = new StringBuilder().Append(imageId).Append('\n')
            .Append(cpu?.Millicores).Append('\n').Append(memory?.Bytes).Append('\n').Append(options.HostNetwork).Append('\n')
            .Append(options.AuthToken is null ? "" : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(options.AuthToken)))).Append('\n');
        foreach (var (key, value) in options.EnvVars.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            spec.Append(key).Append('=').Append(value).Append('\n');
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(spec.ToString())))[..32];
    }

    private async Task<ReplicaEndpoint> StartReplicaAsync(EngineConnection engine, int index, string imageId, CancellationToken cancellationToken)
    {
        var name = ContainerName(index);
        var docker = engine.Client;
        var existing = await TryInspectContainerAsync(engine, name, cancellationToken);
        if (options.ConnectOnly)
        {
            if (existing is null || existing.State?.Running != true)
            {
                throw new EnvironmentUnavailableException($"no running container named {name} on {engine.Spec} to connect to");
            }
            return await ReadyEndpointAsync(new ReplicaContainer(engine, existing.ID, name, index, StartedHere: false), cancellationToken);
        }
        var spec = SpecHash(imageId);
        if (existing is not null)
        {
            if (!(existing.Config?.Labels?.TryGetValue(ContainerLabels.Owner, out var owner) == true && owner == ContainerLabels.OwnerValue))
            {
                // Someone else's container (a database, another tool's): never replace it.
                throw new EnvironmentOptionsException($"a container named {name} already exists on {engine.Spec} and was not started by affinetes; choose another container name or remove it");
            }
            var matches = existing.Config.Labels!.TryGetValue(ContainerLabels.Spec, out var hash) && hash == spec;
            if (matches && existing.State?.Running == true && !options.ForceRecreate)
            {
                return await ReadyEndpointAsync(new ReplicaContainer(engine, existing.ID, name, index, StartedHere: false), cancellationToken);
            }
            // Different image, environment or limits (or asked to): never silently reuse it.
            await docker.Containers.RemoveContainerAsync(existing.ID, new ContainerRemoveParameters { Force = true }, cancellationToken);
        }

        var env = options.EnvVars.Select(kv => $"{kv.Key}={kv.Value}").ToList();
        if (options.AuthToken is { } token)
        {
            env.Add($"AFFINETES_AUTH_TOKEN={token}");
        }
        var hostConfig = new HostConfig
        {
            RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            NanoCPUs = cpu?.NanoCpus ?? 0,
            Memory = memory?.Bytes ?? 0,
        };
        int? hostNetworkPort = null;
        if (options.HostNetwork)
        {
            hostNetworkPort = engine.IsRemote ? Random.Shared.Next(20000, 40000) : FreeLocalPort();
            hostConfig.NetworkMode = "host";
            env.Add($"AFFINETES_PORT={hostNetworkPort}");
            env.Add("AFFINETES_BIND=127.0.0.1");
        }
        else
        {
            hostConfig.PortBindings = new Dictionary<string, IList<PortBinding>>
            {
                [ContainerLabels.ContainerPort] = [new PortBinding { HostIP = engine.PublishAddress, HostPort = "" }],
            };
        }
        var createRequest = new CreateContainerParameters
        {
            Name = name,
            Image = options.Image!,
            Env = env,
            ExposedPorts = new Dictionary<string, EmptyStruct> { [ContainerLabels.ContainerPort] = default },
            Labels = new Dictionary<string, string>
            {
                [ContainerLabels.Owner] = ContainerLabels.OwnerValue,
                [ContainerLabels.Name] = options.ContainerName ?? options.Image!,
                [ContainerLabels.Image] = options.Image!,
                [ContainerLabels.Session] = _session,
                [ContainerLabels.Created] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                [ContainerLabels.Replica] = index.ToString(CultureInfo.InvariantCulture),
                [ContainerLabels.Spec] = spec,
            },
            HostConfig = hostConfig,
        };
        var created = await SettledAsync(docker.Containers.CreateContainerAsync(createRequest, CancellationToken.None), cancellationToken);
        var container = new ReplicaContainer(engine, created.ID, name, index, StartedHere: true);
        _containers[created.ID] = container;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            await SettledAsync(StartAsync(docker, created.ID), cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            return await ReadyEndpointAsync(container, cancellationToken, hostNetworkPort);
        }
        catch
        {
            await RemoveAsync(created.ID);
            throw;
        }
    }

    /// <summary>
    /// Awaits an engine request that changes state (create, start), sent without the caller's token: a request
    /// abandoned mid-flight may still take effect in the engine after the caller gave up, leaving a container nobody
    /// tracks. When the caller is cancelled this still waits (bounded) for the request to finish, so that its effect
    /// is known and can be undone; the caller checks its token afterwards.
    /// </summary>
    private static async Task<T> SettledAsync<T>(Task<T> request, CancellationToken cancellationToken)
    {
        try
        {
            return await request.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            try
            {
                return await request.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
            }
            catch (TimeoutException)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }
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

    private async Task<ReplicaEndpoint> ReadyEndpointAsync(ReplicaContainer container, CancellationToken cancellationToken, int? hostNetworkPort = null)
    {
        _containers[container.ContainerId] = container;
        var inspected = await container.Engine.Client.Containers.InspectContainerAsync(container.ContainerId, cancellationToken);
        int port;
        if (hostNetworkPort is { } p)
        {
            port = p;
        }
        else if (inspected.HostConfig?.NetworkMode == "host")
        {
            var env = inspected.Config?.Env?.FirstOrDefault(e => e.StartsWith("AFFINETES_PORT=", StringComparison.Ordinal));
            port = env is null ? 8000 : int.Parse(env["AFFINETES_PORT=".Length..], CultureInfo.InvariantCulture);
        }
        else if (inspected.NetworkSettings?.Ports?.TryGetValue(ContainerLabels.ContainerPort, out var bindings) == true && bindings is { Count: > 0 })
        {
            port = int.Parse(bindings[0].HostPort, CultureInfo.InvariantCulture);
        }
        else
        {
            throw new EnvironmentUnavailableException($"container {container.Name} publishes no port for {ContainerLabels.ContainerPort}");
        }
        var endpoint = new ReplicaEndpoint(container.ContainerId, await container.Engine.ReachAsync(port, cancellationToken),
            container.Engine.Spec is "local" ? container.Name : $"{container.Name}@{container.Engine.Spec}");
        await ReadinessProbe.WaitAsync(http, endpoint.BaseUrl, options.ReadyTimeout, ct => DiagnoseAsync(endpoint, ct), endpoint.Description, cancellationToken);
        return endpoint;
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

    public async Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaEndpoint replica, CancellationToken cancellationToken)
    {
        if (!_containers.TryGetValue(replica.Id, out var container))
        {
            return null;
        }
        var inspected = await TryInspectContainerAsync(container.Engine, container.ContainerId, cancellationToken);
        if (inspected is null)
        {
            return new EnvironmentUnavailableException($"container {container.Name} was removed");
        }
        if (inspected.State?.Running == true)
        {
            return null;
        }
        return new EnvironmentUnavailableException($"container {container.Name} ({options.Image}) stopped", inspected.State?.ExitCode,
            await LogTailAsync(container, 20, cancellationToken));
    }

    private static async Task<string> LogTailAsync(ReplicaContainer container, int lines, CancellationToken cancellationToken)
    {
        try
        {
            using var stream = await container.Engine.Client.Containers.GetContainerLogsAsync(container.ContainerId,
                new ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Tail = lines.ToString(CultureInfo.InvariantCulture) }, cancellationToken);
            var (stdout, stderr) = await stream.ReadOutputToEndAsync(cancellationToken);
            return (stdout + stderr).Trim();
        }
        catch (DockerApiException)
        {
            return "";
        }
    }

    public async Task<ReplicaEndpoint?> ReplaceAsync(ReplicaEndpoint dead, CancellationToken cancellationToken)
    {
        if (!_containers.TryRemove(dead.Id, out var container))
        {
            return null;
        }
        await RemoveContainerAsync(container);
        var imageId = await EnsureImageAsync(container.Engine, cancellationToken);
        return await StartReplicaAsync(container.Engine, container.Index, imageId, cancellationToken);
    }

    public async Task StreamLogsAsync(ReplicaEndpoint replica, Action<string> sink, bool follow, CancellationToken cancellationToken)
    {
        if (!_containers.TryGetValue(replica.Id, out var container))
        {
            return;
        }
        using var stream = await container.Engine.Client.Containers.GetContainerLogsAsync(container.ContainerId,
            new ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Follow = follow }, cancellationToken);
        await ContainerLogs.PumpAsync(stream, sink, cancellationToken);
    }

    private async Task RemoveAsync(string containerId)
    {
        if (_containers.TryRemove(containerId, out var container))
        {
            await RemoveContainerAsync(container);
        }
    }

    private static async Task RemoveContainerAsync(ReplicaContainer container)
    {
        if (!container.StartedHere)
        {
            return;
        }
        try
        {
            await container.Engine.Client.Containers.RemoveContainerAsync(container.ContainerId, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        }
        catch (DockerContainerNotFoundException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (options.Cleanup)
        {
            await Task.WhenAll(_containers.Values.Select(async c =>
            {
                try
                {
                    await c.Engine.Client.Containers.StopContainerAsync(c.ContainerId, new ContainerStopParameters { WaitBeforeKillSeconds = 5 }, CancellationToken.None);
                }
                catch (DockerApiException)
                {
                }
                await RemoveContainerAsync(c);
            }));
            _containers.Clear();
        }
        foreach (var engine in _engines.Values.Where(t => t.IsCompletedSuccessfully))
        {
            await engine.Result.DisposeAsync();
        }
    }

    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

/// <summary>Reads a container's multiplexed log stream line by line.</summary>
public static class ContainerLogs
{
    public static async Task PumpAsync(MultiplexedStream stream, Action<string> sink, CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        var pending = new StringBuilder();
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken);
            if (read.EOF)
            {
                break;
            }
            pending.Append(Encoding.UTF8.GetString(buffer, 0, read.Count));
            var text = pending.ToString();
            var lastNewline = text.LastIndexOf('\n');
            if (lastNewline < 0)
            {
                continue;
            }
            foreach (var line in text[..lastNewline].Split('\n'))
            {
                sink(line.TrimEnd('\r'));
            }
            pending.Clear().Append(text[(lastNewline + 1)..]);
        }
        if (pending.Length > 0)
        {
            sink(pending.ToString());
        }
    }
}
