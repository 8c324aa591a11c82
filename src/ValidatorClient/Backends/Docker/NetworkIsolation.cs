using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Gateway;
using Docker.DotNet.Models;

namespace Affinetes.ValidatorClient.Backends.Docker;

/// <summary>
/// What a container's network is (<see cref="DockerOptions.Network"/>) and how it reaches the LLM gateway.
/// Isolated: <c>--network none</c>; its host serves on a unix socket in a directory of this client's, bind-mounted
/// read-write (mode 0777 so that any container user can create the socket; it sits in a 0700 directory of this
/// client's, so no other user of the machine reaches it), and the client calls it through that socket. With a
/// gateway (any network mode): the gateway's API directory is mounted read-only and the host relays the actor's
/// 127.0.0.1:PORT to its socket; the container gets the base URL and its token, never the real key.
/// A container of the local engine with a network serves on such a socket as well: this client calls it there, not
/// through docker-proxy (<see cref="UnixSocketEndpoints.AddShortcut"/>).
/// </summary>
internal sealed class NetworkIsolation(EnvironmentOptions options, GatewayAccess? gateway) : IDisposable
{
    /// <summary>Where the host's socket directory is mounted in the container.</summary>
    public const string HostSocketMount = "/run/affinetes/host";

    /// <summary>The host's socket in <see cref="HostSocketMount"/>.</summary>
    public const string HostSocketName = "host.sock";

    private readonly Lock _gate = new();
    private string? _root;

    public bool Isolated => options.Docker.Network.Mode == NetworkMode.Isolated;

    /// <summary>What goes into the container's spec hash: a container of another network or gateway token is never reused.</summary>
    public string SpecText => $"{options.Docker.Network}\n{(gateway is null ? "" : HostEnvironment.HashAuthToken(gateway.Token))}";

    /// <summary>
    /// Sets the container's network, mounts and environment for replica <paramref name="containerName"/>;
    /// <paramref name="localEngine"/>: the engine runs on this machine, so a socket directory of ours can be mounted.
    /// </summary>
    public void Apply(string containerName, HostConfig hostConfig, List<string> env, bool localEngine)
    {
        var binds = new List<string>();
        if (Isolated || (localEngine && !options.Docker.HostNetwork))
        {
            if (Isolated)
            {
                hostConfig.NetworkMode = "none";
            }
            var directory = SocketDirectory(containerName);
            binds.Add($"{directory}:{HostSocketMount}");
            env.Add($"{HostEnvironment.UnixSocket}={HostSocketMount}/{HostSocketName}");
        }
        if (gateway is not null)
        {
            binds.Add($"{gateway.Gateway.ApiDirectory}:{GatewayAccess.MountPath}:ro");
            // Each container has its own 127.0.0.1 (host network is refused with a gateway), so the port is the same in all.
            foreach (var (name, value) in gateway.ContainerVariables(GatewayAccess.RelayPort))
            {
                // The gateway's values win over the same names given by the caller (an API key above all).
                env.RemoveAll(e => e.StartsWith(name + "=", StringComparison.Ordinal));
                env.Add($"{name}={value}");
            }
        }
        if (binds.Count > 0)
        {
            hostConfig.Binds = [.. hostConfig.Binds ?? [], .. binds];
        }
    }

    /// <summary>The base URL of an isolated container's host (its socket, found from its mount), or null for a container with a network.</summary>
    public static Uri? SocketEndpoint(ContainerInspectResponse inspected)
    {
        if (inspected.HostConfig?.NetworkMode != "none")
        {
            return null;
        }
        var mount = inspected.Mounts?.FirstOrDefault(m => m.Destination == HostSocketMount)
            ?? throw new EnvironmentUnavailableException($"container {inspected.Name?.TrimStart('/')} has no network and no socket directory at {HostSocketMount}, so it cannot be reached");
        return UnixSocketEndpoints.Register(Path.Combine(mount.Source, HostSocketName));
    }

    /// <summary>The socket a container with a network serves on beside its published port, when it has one.</summary>
    public static string? SocketBesidePort(ContainerInspectResponse inspected) =>
        inspected.Mounts?.FirstOrDefault(m => m.Destination == HostSocketMount) is { } mount ? Path.Combine(mount.Source, HostSocketName) : null;

    private string SocketDirectory(string containerName)
    {
        lock (_gate)
        {
            _root ??= Directory.CreateTempSubdirectory("affinetes-net-").FullName; // 0700
        }
        var directory = Path.Combine(_root, containerName);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
        Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, (UnixFileMode)0x1FF); // 0777: the container's user (65534, or the image's) creates the socket
        }
        return directory;
    }

    /// <summary>Removes a replica's socket directory once its container is gone.</summary>
    public void Release(string containerName)
    {
        if (_root is not null)
        {
            UnixSocketEndpoints.RemoveShortcutsInto(Path.Combine(_root, containerName));
            TryDelete(Path.Combine(_root, containerName));
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A socket file of a container user this process may not remove: the directory stays in the temp folder.
        }
    }

    /// <summary>Removes the socket directories when the client removes what it started (kept for containers left running).</summary>
    public void Dispose()
    {
        if (_root is not null && options.Cleanup)
        {
            TryDelete(_root);
        }
    }

}
