using System.CommandLine;
using System.Text.Json;
using Affinetes.Injector.Building;
using Affinetes.Injector.Detection;
using Affinetes.Injector.Sources;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs build DIR|GIT_URL --tag T</c>: the environment's image with the ActorHost layered in.</summary>
internal static class BuildCommand
{
    public static Command Create()
    {
        var source = new Argument<string>("source") { Description = "environment directory, or git URL as url#ref:subdir" };
        var tag = new Option<string>("--tag", "-t") { Description = "tag of the built image, e.g. my-env:v1", Required = true };
        var push = new Option<bool>("--push") { Description = "push the image after building" };
        var registry = new Option<string?>("--registry") { Description = "registry to tag for and push to, e.g. 127.0.0.1:5000" };
        var buildArgs = new Option<string[]>("--build-arg") { Description = "build argument K=V for the environment's Dockerfile (repeatable)", AllowMultipleArgumentsPerToken = false };
        var noCache = new Option<bool>("--no-cache") { Description = "build without the engine's cache" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "print only the result" };
        var json = new Option<bool>("--json") { Description = "print the result as JSON" };
        var hostImage = new Option<string?>("--host-image") { Description = "host-layer image (default affinetes/host:<version>)" };
        var command = new Command("build", "Build an environment into an image that serves its Actor over HTTP.")
        {
            source, tag, push, registry, buildArgs, noCache, quiet, json, hostImage,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            var asJson = result.GetValue(json);
            try
            {
                var options = new BuildOptions
                {
                    Tag = result.GetValue(tag)!,
                    BuildArgs = KeyValues.Parse(result.GetValue(buildArgs), "--build-arg"),
                    NoCache = result.GetValue(noCache),
                    Quiet = result.GetValue(quiet) || asJson,
                    Push = result.GetValue(push) || result.GetValue(registry) is not null,
                    Registry = result.GetValue(registry),
                    HostImage = result.GetValue(hostImage),
                };
                await using var engines = await Engines.ConnectAsync([Engines.DefaultSpec], cancellationToken);
                var docker = engines.All[0].Client;
                var progress = new SynchronousReporter(line =>
                {
                    if (!options.Quiet || line.Stage == BuildStage.Check)
                    {
                        error.WriteLine($"[{Label(line.Stage)}] {line.Message}");
                    }
                });
                var built = await new ImageBuilder(docker).BuildAsync(EnvironmentSource.Parse(result.GetValue(source)!), options, asJson ? null : progress, cancellationToken);
                if (asJson)
                {
                    output.WriteLine(JsonSerializer.Serialize(new
                    {
                        tag = built.Tag,
                        image_id = built.ImageId,
                        size_bytes = built.SizeBytes,
                        kind = built.Kind,
                        source_digest = built.SourceDigest,
                        pushed_as = built.PushedAs,
                    }));
                }
                else
                {
                    output.WriteLine($"built {built.Tag}  {built.ImageId[..Math.Min(19, built.ImageId.Length)]}  {Sizes.Human(built.SizeBytes)}  {built.Kind}" +
                        (built.PushedAs is null ? "" : $"  pushed {built.PushedAs}"));
                }
                return 0;
            }
            catch (Exception e) when (e is BuildException or DetectionException or SourceException or ArgumentException or Docker.DotNet.DockerApiException or HttpRequestException)
            {
                error.WriteLine($"afs build: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static string Label(BuildStage stage) => stage switch
    {
        BuildStage.Source => "source",
        BuildStage.EnvironmentImage => "environment",
        BuildStage.HostLayer => "host layer",
        BuildStage.Check => "check",
        _ => "push",
    };

    private sealed class SynchronousReporter(Action<BuildProgress> report) : IProgress<BuildProgress>
    {
        public void Report(BuildProgress value) => report(value);
    }
}

/// <summary><c>afs init NAME [--kind python|csharp|sidecar]</c>: a starter environment that builds and answers as generated.</summary>
internal static class InitCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "directory to create (its name names the environment)" };
        var kind = new Option<string>("--kind") { Description = $"kind of environment: {string.Join(", ", KindDetector.Default.Kinds.Select(k => k.Name))}", DefaultValueFactory = _ => "python" };
        var command = new Command("init", "Write a working starter environment.") { name, kind };
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            var directory = Path.GetFullPath(result.GetValue(name)!);
            var environmentName = Path.GetFileName(directory.TrimEnd('/')).ToLowerInvariant();
            var chosen = KindDetector.Default.Find(result.GetValue(kind)!);
            if (chosen is null)
            {
                error.WriteLine($"afs init: unknown kind '{result.GetValue(kind)}'; use one of: {string.Join(", ", KindDetector.Default.Kinds.Select(k => k.Name))}");
                return 1;
            }
            var starter = chosen.StarterFiles(environmentName);
            if (starter.Count == 0)
            {
                error.WriteLine($"afs init: there is no starter for {chosen.Name} environments (they are detected when built); for an environment with its own server use --kind sidecar");
                return 1;
            }
            if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
            {
                error.WriteLine($"afs init: {directory} exists and is not empty; choose a new name");
                return 1;
            }
            Directory.CreateDirectory(directory);
            foreach (var (file, content) in starter)
            {
                File.WriteAllText(Path.Combine(directory, file), content);
            }
            output.WriteLine($"created {chosen.Name} environment {directory}");
            output.WriteLine($"next: afs build {result.GetValue(name)} --tag {environmentName}:dev");
            return 0;
        });
        return command;
    }
}
