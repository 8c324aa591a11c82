using System.Globalization;
using Affinetes.Protocol;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.ValidatorClient.Backends.Docker;

/// <summary>A container a validator started, read back from its <see cref="ContainerLabels"/>.</summary>
/// <param name="Engine">The engine it is on, as named (<c>local</c>, <c>tcp://...</c>, <c>ssh://...</c>).</param>
/// <param name="Id">The engine's container id.</param>
/// <param name="ContainerName">The container's name on the engine (without the leading slash).</param>
/// <param name="EnvironmentName">The environment it belongs to: the container name asked for, else the image.</param>
/// <param name="Image">The image as the validator named it.</param>
/// <param name="Session">The environment instance that started it (one per load).</param>
/// <param name="Replica">Index of the replica within its environment.</param>
/// <param name="Created">When the validator created it.</param>
/// <param name="State">The engine's state: <c>running</c>, <c>exited</c>, <c>created</c> ...</param>
/// <param name="Status">The engine's status text, e.g. <c>Up 3 minutes</c>.</param>
/// <param name="Port">The port of 127.0.0.1 its host answers on, when it is running.</param>
/// <param name="HostNetwork">Whether it runs in the engine host's network (no published port).</param>
/// <param name="Relaxations">What of the hardened profile it runs without (<see cref="ContainerLabels.Relaxations"/>): <c>none</c>, or empty when it was started before the profile existed.</param>
/// <param name="Limits">Its limits as started (<see cref="ContainerLabels.Limits"/>); empty when unknown.</param>
public sealed record ValidatorContainer(
    string Engine, string Id, string ContainerName, string EnvironmentName, string Image, string Session, int Replica, DateTimeOffset Created,
    string State, string Status, int? Port, bool HostNetwork, string Relaxations = "", string Limits = "")
{
    /// <summary>Whether the engine says it runs.</summary>
    public bool Running => State == "running";

    /// <summary>Where its host answers on the engine host, <c>127.0.0.1:PORT</c>; null when it is not running or publishes nothing.</summary>
    public string? Address => Port is { } port ? $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}" : null;
}

/// <summary>
/// The containers validators started on one engine, found by the <c>affinetes.owner</c> label whatever process
/// started them (a crashed validator's included): what <c>afs ps</c>, <c>afs stop</c> and <c>afs cleanup</c> use.
/// </summary>
internal static class OwnedContainers
{
    /// <summary>Our containers, by environment then replica; only those of <paramref name="environmentName"/> when given.</summary>
    public static async Task<IReadOnlyList<ValidatorContainer>> ListAsync(IDockerClient docker, string engine, string? environmentName = null, bool includeStopped = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(docker);
        var labels = new Dictionary<string, bool> { [$"{ContainerLabels.Owner}={ContainerLabels.OwnerValue}"] = true };
        if (environmentName is not null)
        {
            labels[$"{ContainerLabels.Name}={environmentName}"] = true;
        }
        var listed = await docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = includeStopped,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = labels },
        }, cancellationToken);
        var containers = (await Task.WhenAll(listed.Select(c => ReadAsync(docker, engine, c, cancellationToken)))).OfType<ValidatorContainer>().ToList();
        // Replicas of one session start together: sessions in the order they started, each in replica order.
        var sessionStarted = containers.GroupBy(c => (c.EnvironmentName, c.Session)).ToDictionary(g => g.Key, g => g.Min(c => c.Created));
        return [.. containers
            .OrderBy(c => c.EnvironmentName, StringComparer.Ordinal)
            .ThenBy(c => sessionStarted[(c.EnvironmentName, c.Session)])
            .ThenBy(c => c.Session, StringComparer.Ordinal)
            .ThenBy(c => c.Replica)];
    }

    /// <summary>
    /// Stops the container (its host drains calls in flight for up to <paramref name="gracePeriod"/>; zero kills it)
    /// and removes it. False when it was already gone.
    /// </summary>
    public static async Task<bool> RemoveAsync(IDockerClient docker, string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(docker);
        try
        {
            if (gracePeriod > TimeSpan.Zero)
            {
                await docker.Containers.StopContainerAsync(containerId,
                    new ContainerStopParameters { WaitBeforeKillSeconds = (uint)Math.Ceiling(gracePeriod.TotalSeconds) }, cancellationToken);
            }
            await docker.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true }, cancellationToken);
            return true;
        }
        catch (DockerContainerNotFoundException)
        {
            return false;
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.Conflict && e.ResponseBody?.Contains("already in progress", StringComparison.Ordinal) == true)
        {
            return true; // someone else (another afs cleanup, the validator itself) is removing it right now
        }
    }

    private static async Task<ValidatorContainer?> ReadAsync(IDockerClient docker, string engine, ContainerListResponse listed, CancellationToken cancellationToken)
    {
        var labels = listed.Labels ?? new Dictionary<string, string>();
        string Label(string key) => labels.TryGetValue(key, out var value) ? value : "";
        var hostNetwork = listed.NetworkSettings?.Networks?.ContainsKey("host") == true;
        var running = listed.State == "running";
        int? port = null;
        if (running && hostNetwork)
        {
            try
            {
                // The host listens on AFFINETES_PORT of the engine host's 127.0.0.1; only the container's config says which.
                var inspected = await docker.Containers.InspectContainerAsync(listed.ID, cancellationToken);
                var prefix = HostEnvironment.Port + "=";
                var env = inspected.Config?.Env?.FirstOrDefault(e => e.StartsWith(prefix, StringComparison.Ordinal));
                port = env is null ? HostEnvironment.DefaultPort : int.Parse(env[prefix.Length..], CultureInfo.InvariantCulture);
            }
            catch (DockerContainerNotFoundException)
            {
                return null; // removed between the list and now
            }
        }
        else if (running)
        {
            port = listed.Ports?.FirstOrDefault(p => p.PrivatePort == HostEnvironment.DefaultPort && p.PublicPort != 0) is { } published ? published.PublicPort : null;
        }
        var created = DateTimeOffset.TryParse(Label(ContainerLabels.Created), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : new DateTimeOffset(DateTime.SpecifyKind(listed.Created, DateTimeKind.Utc));
        return new ValidatorContainer(
            engine,
            listed.ID,
            listed.Names?.FirstOrDefault()?.TrimStart('/') ?? listed.ID[..12],
            Label(ContainerLabels.Name),
            Label(ContainerLabels.Image) is { Length: > 0 } image ? image : listed.Image,
            Label(ContainerLabels.Session),
            int.TryParse(Label(ContainerLabels.Replica), NumberStyles.None, CultureInfo.InvariantCulture, out var replica) ? replica : 0,
            created,
            listed.State ?? "",
            listed.Status ?? "",
            port,
            hostNetwork,
            Label(ContainerLabels.Relaxations),
            Label(ContainerLabels.Limits));
    }
}
