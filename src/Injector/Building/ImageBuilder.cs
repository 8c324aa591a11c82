using Affinetes.Injector.Detection;
using Affinetes.Injector.Dockerfiles;
using Affinetes.Injector.Sources;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.Injector.Building;

/// <summary>
/// Builds an environment into a served image through the Docker Engine API:
/// source -> kind -> the environment's own Dockerfile (temporary tag) -> the host layer on top (labels, entry point)
/// -> a start check inside the image -> optional push. No temporary image is left behind, and nothing from the
/// environment runs on the build machine: the start check runs inside the built image.
/// </summary>
public sealed class ImageBuilder(IDockerClient docker, KindDetector? detector = null)
{
    private readonly KindDetector _detector = detector ?? KindDetector.Default;

    public async Task<BuildResult> BuildAsync(EnvironmentSource source, BuildOptions options, IProgress<BuildProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ValidateTag(options.Tag);
        progress?.Report(new BuildProgress(BuildStage.Source, $"source {source}"));
        using var materialized = await source.MaterializeAsync(cancellationToken);
        var kind = _detector.Detect(materialized.Directory);
        var digest = SourceDigest.Compute(materialized.Directory);
        progress?.Report(new BuildProgress(BuildStage.Source, $"{kind.Name} environment, {digest}"));

        var hostImage = options.HostImage is { } given
            ? await RequireHostImageAsync(given, cancellationToken)
            : await HostLayerSource.Locate().EnsureAsync(docker, progress, cancellationToken);

        await SweepTemporaryTagsAsync(cancellationToken);
        var temporaryTag = TemporaryTag(DateTimeOffset.UtcNow);
        try
        {
            await using (var context = await BuildContext.CreateAsync(materialized.Directory, cancellationToken))
            {
                await RunBuildAsync(context, new ImageBuildParameters
                {
                    Tags = [temporaryTag],
                    Dockerfile = "Dockerfile",
                    BuildArgs = options.BuildArgs.ToDictionary(),
                    NoCache = options.NoCache,
                    Remove = true,
                    ForceRemove = true,
                }, BuildStage.EnvironmentImage, options.Quiet, progress, cancellationToken);
            }

            var environmentImage = await docker.Images.InspectImageAsync(temporaryTag, cancellationToken);
            var dockerfile = kind.HostLayerDockerfile(new HostLayerInputs
            {
                BaseImage = temporaryTag,
                HostImage = hostImage,
                HostVersion = HostLayer.Version,
                SourceDigest = digest,
                BaseCommand = [.. environmentImage.Config?.Entrypoint ?? [], .. environmentImage.Config?.Cmd ?? []],
                BaseUser = environmentImage.Config?.User,
                SourceDirectory = materialized.Directory,
            });
            await using (var layerContext = await BuildContext.FromDockerfileAsync(dockerfile, cancellationToken))
            {
                await RunBuildAsync(layerContext, new ImageBuildParameters
                {
                    Tags = [options.Tag],
                    Dockerfile = "Dockerfile",
                    Remove = true,
                    ForceRemove = true,
                }, BuildStage.HostLayer, options.Quiet, progress, cancellationToken);
            }
        }
        finally
        {
            await UntagAsync(temporaryTag);
        }

        try
        {
            await CheckAsync(options.Tag, progress, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            await RemoveFailedImageAsync(options.Tag); // never leave an image that was not checked
            throw;
        }
        var image = await docker.Images.InspectImageAsync(options.Tag, cancellationToken);
        var pushedAs = options.Push ? await PushAsync(options, progress, cancellationToken) : null;
        return new BuildResult(options.Tag, image.ID, image.Size, kind.Label, digest, pushedAs);
    }

    private static void ValidateTag(string tag)
    {
        if (string.IsNullOrWhiteSpace(tag) || tag.Any(char.IsWhiteSpace) || SplitTag(tag).Repository.Any(char.IsUpper))
        {
            throw new BuildException($"image tag '{tag}' is not valid; use lowercase name[:version], e.g. my-env:v1");
        }
    }

    private async Task<string> RequireHostImageAsync(string hostImage, CancellationToken cancellationToken)
    {
        try
        {
            await docker.Images.InspectImageAsync(hostImage, cancellationToken);
            return hostImage;
        }
        catch (DockerImageNotFoundException)
        {
            throw new BuildException($"the host layer image {hostImage} (--host-image) is not in the engine; pull it, or leave --host-image out to use afs's own") { Stage = BuildStage.HostImage };
        }
    }

    private async Task RunBuildAsync(Stream context, ImageBuildParameters parameters, BuildStage stage, bool quiet, IProgress<BuildProgress>? progress, CancellationToken cancellationToken)
    {
        var log = new BuildLog();
        string? error = null;
        var sink = new SynchronousProgress<JSONMessage>(message =>
        {
            if (message.Error is not null)
            {
                error = message.Error.Message;
                return;
            }
            foreach (var line in log.Add(message.Stream ?? message.Status ?? ""))
            {
                if (!quiet)
                {
                    progress?.Report(new BuildProgress(stage, line));
                }
            }
        });
        try
        {
            await docker.Images.BuildImageFromDockerfileAsync(parameters, context, null, null, sink, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw new BuildException($"{Describe(stage)} failed: {e.ResponseBody?.Trim()}", e) { Stage = stage };
        }
        if (error is not null)
        {
            var at = log.CurrentStep is { } step ? $" at {step}" : "";
            var network = log.DownloadFailed(error)
                ? "; a download failed: the build could not reach the network it needs (builds here reach Debian's mirrors at most, no PyPI or registry: install from apt, or vendor the files into the environment's directory)"
                : "";
            throw new BuildException($"{Describe(stage)} failed{at}: {error.Trim()}{network}") { Stage = stage, Output = [.. log.StepOutput] };
        }
    }

    private static string Describe(BuildStage stage) => stage switch
    {
        BuildStage.EnvironmentImage => "building the environment's Dockerfile",
        BuildStage.HostLayer => "layering the host",
        _ => stage.ToString(),
    };

    /// <summary>Runs the host's <c>--check</c> inside the image: libpython found, env.py imports, Actor defined.</summary>
    private async Task CheckAsync(string image, IProgress<BuildProgress>? progress, CancellationToken cancellationToken)
    {
        progress?.Report(new BuildProgress(BuildStage.Check, "checking that the host starts inside the image"));
        var container = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = image,
            Cmd = ["--check"],
            NetworkDisabled = true,
            Labels = new Dictionary<string, string> { ["affinetes.build-check"] = "true" },
        }, cancellationToken);
        string? failure = null;
        try
        {
            await docker.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            var exit = await docker.Containers.WaitContainerAsync(container.ID, timeout.Token);
            var logs = await ReadLogsAsync(container.ID, cancellationToken);
            if (exit.StatusCode != 0)
            {
                failure = $"the built image cannot serve its environment: {(logs.Length > 0 ? logs : DescribeSilentExit(exit.StatusCode))}";
            }
            else
            {
                progress?.Report(new BuildProgress(BuildStage.Check, logs.Trim()));
            }
        }
        finally
        {
            // First the container: while it exists the engine refuses to delete its image (only the tag would go).
            await docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        }
        if (failure is not null)
        {
            await RemoveFailedImageAsync(image);
            throw new BuildException(failure) { Stage = BuildStage.Check };
        }
    }

    private static string DescribeSilentExit(long code)
    {
        var signal = code > 128 ? (code - 128) switch
        {
            4 => " (killed by SIGILL)",
            6 => " (killed by SIGABRT)",
            7 => " (killed by SIGBUS)",
            9 => " (killed by SIGKILL: out of memory?)",
            11 => " (killed by SIGSEGV)",
            var other => $" (killed by signal {other})",
        } : "";
        return $"the host's start check exited with code {code}{signal} without a message; run the image with --check to see it happen";
    }

    private async Task<string> ReadLogsAsync(string containerId, CancellationToken cancellationToken)
    {
        using var stream = await docker.Containers.GetContainerLogsAsync(containerId,
            new ContainerLogsParameters { ShowStdout = true, ShowStderr = true }, cancellationToken);
        var (stdout, stderr) = await stream.ReadOutputToEndAsync(cancellationToken);
        return string.Join('\n', new[] { stdout, stderr }.Where(s => !string.IsNullOrWhiteSpace(s)).Select(s => s.Trim()));
    }

    private async Task<string> PushAsync(BuildOptions options, IProgress<BuildProgress>? progress, CancellationToken cancellationToken)
    {
        var target = options.Tag;
        if (options.Registry is { } registry)
        {
            var (repository, tag) = SplitTag(options.Tag);
            var name = repository.Contains('/', StringComparison.Ordinal) && repository.Split('/')[0].Contains('.', StringComparison.Ordinal)
                ? repository[(repository.IndexOf('/', StringComparison.Ordinal) + 1)..]
                : repository;
            target = $"{registry.TrimEnd('/')}/{name}:{tag}";
            await docker.Images.TagImageAsync(options.Tag, new ImageTagParameters { RepositoryName = $"{registry.TrimEnd('/')}/{name}", Tag = tag }, cancellationToken);
        }
        progress?.Report(new BuildProgress(BuildStage.Push, $"pushing {target}"));
        var (targetRepository, targetTag) = SplitTag(target);
        string? error = null;
        var sink = new SynchronousProgress<JSONMessage>(message =>
        {
            if (message.Error is not null)
            {
                error = message.Error.Message;
            }
            else if (!options.Quiet && message.Status is { Length: > 0 } status)
            {
                progress?.Report(new BuildProgress(BuildStage.Push, message.ID is null ? status : $"{message.ID}: {status}"));
            }
        });
        try
        {
            await docker.Images.PushImageAsync(targetRepository, new ImagePushParameters { Tag = targetTag }, new AuthConfig(), sink, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw new BuildException($"pushing {target} failed: {e.ResponseBody?.Trim()}", e);
        }
        if (error is not null)
        {
            throw new BuildException($"pushing {target} failed: {error.Trim()}");
        }
        return target;
    }

    /// <summary>Splits <c>host:5000/name:tag</c> into repository and tag (default <c>latest</c>).</summary>
    public static (string Repository, string Tag) SplitTag(string image)
    {
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > slash ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    /// <summary>
    /// Removes a tag (and the image when nothing else uses it), never its parent layers: another build running at
    /// the same time may be using them from the cache. Without force, an image with children is only untagged.
    /// </summary>
    /// <summary>The repository of the environment images a build tags while it makes the host layer over them.</summary>
    internal const string TemporaryRepository = "affinetes-build";

    /// <summary>A temporary tag older than this is a killed build's: no build takes a day between its two steps.</summary>
    internal static readonly TimeSpan TemporaryTagLifetime = TimeSpan.FromHours(24);

    /// <summary>
    /// <c>affinetes-build/{unix seconds}-{random}:environment</c>: when it was made is in the name, so that a later build
    /// can tell a killed build's leftover from a running build's (the image's own creation time cannot: a build served
    /// from the cache gives an image made long ago).
    /// </summary>
    internal static string TemporaryTag(DateTimeOffset now) =>
        $"{TemporaryRepository}/{now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}:environment";

    /// <summary>When <paramref name="tag"/> was made, if it is a temporary tag of <see cref="TemporaryTag"/>'s form.</summary>
    internal static DateTimeOffset? TemporaryTagTime(string tag)
    {
        var prefix = TemporaryRepository + "/";
        if (!tag.StartsWith(prefix, StringComparison.Ordinal) || !tag.EndsWith(":environment", StringComparison.Ordinal))
        {
            return null;
        }
        var name = tag[prefix.Length..^":environment".Length];
        var dash = name.IndexOf('-', StringComparison.Ordinal);
        return dash > 0 && long.TryParse(name[..dash], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            && seconds < 253402300800 // year 10000: DateTimeOffset's end
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
    }

    /// <summary>
    /// Removes the temporary tags that builds killed outright (SIGKILL, a lost machine) left behind: those made more
    /// than <see cref="TemporaryTagLifetime"/> ago. Only the tags go; an image still used by another image or a
    /// container stays.
    /// </summary>
    private async Task SweepTemporaryTagsAsync(CancellationToken cancellationToken)
    {
        IList<ImagesListResponse> images;
        try
        {
            images = await docker.Images.ListImagesAsync(new ImagesListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["reference"] = new Dictionary<string, bool> { [TemporaryRepository + "/*"] = true } },
            }, cancellationToken);
        }
        catch (DockerApiException)
        {
            return; // a sweep is housekeeping: the build goes on without it
        }
        var cutoff = DateTimeOffset.UtcNow - TemporaryTagLifetime;
        foreach (var image in images)
        {
            foreach (var tag in image.RepoTags ?? [])
            {
                // A tag of the earlier form (a guid alone) carries no time: its image's creation time must do.
                var made = TemporaryTagTime(tag) ?? new DateTimeOffset(DateTime.SpecifyKind(image.Created, DateTimeKind.Utc));
                if (tag.StartsWith(TemporaryRepository + "/", StringComparison.Ordinal) && made < cutoff)
                {
                    await UntagAsync(tag);
                }
            }
        }
    }

    /// <summary>
    /// Removes the tag <paramref name="tag"/>: untagged at once when nothing stands in the way, else forced (a container
    /// of a cancelled build step may still use the image for a moment; the tag must go all the same).
    /// </summary>
    private async Task UntagAsync(string tag)
    {
        try
        {
            await docker.Images.DeleteImageAsync(tag, new ImageDeleteParameters { Force = false, NoPrune = true }, CancellationToken.None);
        }
        catch (DockerImageNotFoundException)
        {
        }
        catch (DockerApiException)
        {
            await RemoveImageAsync(tag, force: true);
        }
    }

    private async Task RemoveImageAsync(string image, bool force = true)
    {
        try
        {
            await docker.Images.DeleteImageAsync(image, new ImageDeleteParameters { Force = force, NoPrune = true }, CancellationToken.None);
        }
        catch (DockerImageNotFoundException)
        {
        }
        catch (DockerApiException)
        {
            // Still in use as a parent of the final image: untagging is all that was needed.
        }
    }

    /// <summary>
    /// Removes an image this build made and that cannot be used, with the untagged layers under it that nothing else
    /// uses (the environment's own image and the host layer's steps): a failed build leaves nothing behind. Layers
    /// another image or a running build still uses are refused by the engine and stay.
    /// </summary>
    private async Task RemoveFailedImageAsync(string image)
    {
        try
        {
            await docker.Images.DeleteImageAsync(image, new ImageDeleteParameters { Force = false, NoPrune = false }, CancellationToken.None);
        }
        catch (DockerImageNotFoundException)
        {
        }
        catch (DockerApiException)
        {
            await RemoveImageAsync(image); // in use by a container: at least the tag goes
        }
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

/// <summary>Formats sizes for one-line results.</summary>
public static class Sizes
{
    public static string Human(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.0} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / (double)(1L << 10):0.0} KiB",
        _ => $"{bytes} B",
    };
}
