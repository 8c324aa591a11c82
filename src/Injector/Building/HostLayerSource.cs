using System.Reflection;
using Affinetes.Injector.Dockerfiles;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.Injector.Building;

/// <summary>
/// Where the host layer of a build comes from. Its image is named by the host's version and content,
/// <c>affinetes/host:&lt;version&gt;-&lt;content id&gt;</c>, so that two checkouts or two afs versions on one machine never
/// replace each other's. When the engine lacks it, it is built from the published host next to this program (a
/// checkout's <c>artifacts/host/linux-x64</c>, or <c>$AFFINETES_HOST_DIR</c>), or pulled from the host-layer registry
/// (<c>$AFFINETES_HOST_REGISTRY</c>, or the registry this afs was released with).
/// </summary>
public sealed class HostLayerSource
{
    /// <summary>The environment variable naming a published host directory (holding <c>.content-id</c>).</summary>
    public const string DirectoryVariable = "AFFINETES_HOST_DIR";

    /// <summary>The environment variable naming the registry the host layer is pulled from, e.g. <c>127.0.0.1:5000</c>.</summary>
    public const string RegistryVariable = "AFFINETES_HOST_REGISTRY";

    private const string ContentIdFile = ".content-id";

    private HostLayerSource(string? directory, string? contentId, string? registry)
    {
        Directory = directory;
        ContentId = contentId;
        Registry = registry;
    }

    /// <summary>The published host (holding <c>affinetes-host</c>), when one is on this machine.</summary>
    public string? Directory { get; }

    /// <summary>The content id of the host layer, when known.</summary>
    public string? ContentId { get; }

    /// <summary>The registry to pull the layer from, when it is not in the engine.</summary>
    public string? Registry { get; }

    /// <summary>The image this build layers from: <c>affinetes/host:&lt;version&gt;-&lt;content id&gt;</c>.</summary>
    public string Image => ContentId is null ? $"affinetes/host:{HostLayer.Version}" : $"affinetes/host:{HostLayer.Version}-{ContentId}";

    /// <summary>
    /// The host layer of this program: a published host found through <c>$AFFINETES_HOST_DIR</c> or above this
    /// program's own directory (a checkout), else the content id and registry it was released with.
    /// </summary>
    public static HostLayerSource Locate(string? registry = null)
    {
        var released = typeof(HostLayerSource).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value);
        registry ??= NonEmpty(Environment.GetEnvironmentVariable(RegistryVariable)) ?? NonEmpty(released.GetValueOrDefault("Affinetes.HostLayerRegistry"));
        var directory = NonEmpty(Environment.GetEnvironmentVariable(DirectoryVariable)) ?? FindPublishedHost(AppContext.BaseDirectory);
        if (directory is not null && File.Exists(Path.Combine(directory, ContentIdFile)))
        {
            return new HostLayerSource(directory, File.ReadAllText(Path.Combine(directory, ContentIdFile)).Trim(), registry);
        }
        return new HostLayerSource(null, NonEmpty(released.GetValueOrDefault("Affinetes.HostLayerId")), registry);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>
    /// The host this program carries (<c>host/linux-x64</c> beside it: an installed afs tool), else
    /// <c>artifacts/host/linux-x64</c> of the checkout this program runs from, if it does.
    /// </summary>
    private static string? FindPublishedHost(string start)
    {
        var carried = Path.Combine(start, "host", "linux-x64");
        if (File.Exists(Path.Combine(carried, ContentIdFile)))
        {
            return carried;
        }
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "artifacts", "host", "linux-x64");
            if (File.Exists(Path.Combine(candidate, ContentIdFile)))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>Makes sure the engine has <see cref="Image"/>: built from <see cref="Directory"/>, or pulled from <see cref="Registry"/>.</summary>
    public async Task<string> EnsureAsync(IDockerClient docker, IProgress<BuildProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(docker);
        if (await ExistsAsync(docker, Image, cancellationToken))
        {
            return Image;
        }
        if (Directory is not null)
        {
            progress?.Report(new BuildProgress(BuildStage.HostImage, $"building {Image} from {Directory} (once per host version)"));
            await BuildAsync(docker, cancellationToken);
            return Image;
        }
        if (Registry is not null && ContentId is not null)
        {
            var remote = $"{Registry.TrimEnd('/')}/{Image}";
            progress?.Report(new BuildProgress(BuildStage.HostImage, $"pulling {remote} (once per host version)"));
            await PullAsync(docker, remote, cancellationToken);
            var (repository, tag) = ImageBuilder.SplitTag(Image);
            await docker.Images.TagImageAsync(remote, new ImageTagParameters { RepositoryName = repository, Tag = tag }, cancellationToken);
            return Image;
        }
        throw new BuildException(ContentId is null
            ? $"no host layer to build with: this afs has no published host next to it and was not released with one; in a checkout run scripts/build-host-image.sh, or give --host-image"
            : $"the host layer {Image} is not in the engine and this afs knows no registry to pull it from: set {RegistryVariable} to the registry it was released to (e.g. 127.0.0.1:5000), or give --host-image")
        { Stage = BuildStage.HostImage };
    }

    private static async Task<bool> ExistsAsync(IDockerClient docker, string image, CancellationToken cancellationToken)
    {
        try
        {
            await docker.Images.InspectImageAsync(image, cancellationToken);
            return true;
        }
        catch (DockerImageNotFoundException)
        {
            return false;
        }
    }

    private async Task BuildAsync(IDockerClient docker, CancellationToken cancellationToken)
    {
        await using var context = await BuildContext.ForHostLayerAsync(Directory!, HostLayer.BaseDockerfile, cancellationToken);
        string? error = null;
        try
        {
            await docker.Images.BuildImageFromDockerfileAsync(new ImageBuildParameters
            {
                Tags = [Image],
                Dockerfile = "Dockerfile",
                BuildArgs = new Dictionary<string, string> { ["AFFINETES_VERSION"] = HostLayer.Version },
                Labels = new Dictionary<string, string> { ["affinetes.host.content"] = ContentId! },
                Remove = true,
                ForceRemove = true,
            }, context, null, null, new Reporter(m => error ??= m.Error?.Message), cancellationToken);
        }
        catch (DockerApiException e)
        {
            error = e.ResponseBody?.Trim();
        }
        if (error is not null)
        {
            throw new BuildException($"building the host layer {Image} failed: {error}") { Stage = BuildStage.HostImage };
        }
    }

    private static async Task PullAsync(IDockerClient docker, string remote, CancellationToken cancellationToken)
    {
        var (repository, tag) = ImageBuilder.SplitTag(remote);
        string? error = null;
        try
        {
            await docker.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = tag }, null,
                new Reporter(m => error ??= m.Error?.Message), cancellationToken);
        }
        catch (DockerApiException e)
        {
            error = e.ResponseBody?.Trim();
        }
        if (error is not null)
        {
            throw new BuildException($"pulling the host layer {remote} failed: {error}") { Stage = BuildStage.HostImage };
        }
    }

    private sealed class Reporter(Action<JSONMessage> report) : IProgress<JSONMessage>
    {
        public void Report(JSONMessage value) => report(value);
    }
}
