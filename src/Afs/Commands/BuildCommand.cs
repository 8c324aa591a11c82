using System.CommandLine;
using Affinetes.Afs.Cli;
using Affinetes.Injector.Building;
using Affinetes.Injector.Sources;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs build DIR|GIT_URL --tag T</c>: the environment's image with the ActorHost layered in.</summary>
internal sealed class BuildCommand : AfsCommand
{
    private readonly Argument<string> _source = new("source") { Description = "environment directory, or git URL as url#ref:subdir" };
    private readonly Option<string> _tag = new("--tag", "-t") { Description = "tag of the built image, e.g. my-env:v1", Required = true };
    private readonly Option<bool> _push = new("--push") { Description = "push the image after building" };
    private readonly Option<string?> _registry = new("--registry") { Description = "registry to tag for and push to, e.g. 127.0.0.1:5000" };
    private readonly Option<string[]> _buildArgs = new("--build-arg") { Description = "build argument K=V for the environment's Dockerfile (repeatable)", AllowMultipleArgumentsPerToken = false };
    private readonly Option<bool> _noCache = new("--no-cache") { Description = "build without the engine's cache" };
    private readonly Option<bool> _quiet = new("--quiet", "-q") { Description = "print only the result" };
    private readonly Option<string?> _hostImage = new("--host-image") { Description = "host-layer image (default: the one this afs ships, see afs version)" };

    public BuildCommand()
        : base("build", "Build an environment into an image that serves its Actor over HTTP.")
    {
        Arguments.Add(_source);
        Options.Add(_tag);
        Options.Add(_push);
        Options.Add(_registry);
        Options.Add(_buildArgs);
        Options.Add(_noCache);
        Options.Add(_quiet);
        Options.Add(_hostImage);
    }

    protected override string CancelledMessage(CommandContext context) => "cancelled; nothing of the unfinished build is kept";

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var console = context.Console;
        var options = new BuildOptions
        {
            Tag = context.Get(_tag)!,
            BuildArgs = KeyValues.Parse(context.Get(_buildArgs), "--build-arg"),
            NoCache = context.Get(_noCache),
            Quiet = context.Get(_quiet) || context.Json,
            Push = context.Get(_push) || context.Get(_registry) is not null,
            Registry = context.Get(_registry),
            HostImage = context.Get(_hostImage),
        };
        await using var engines = await Engines.ConnectAsync([Engines.DefaultSpec], cancellationToken);
        var progress = new SynchronousReporter(line =>
        {
            if (!options.Quiet || line.Stage == BuildStage.Check)
            {
                console.Progress($"[{Label(line.Stage)}] {line.Message}");
            }
        });
        BuildResult built;
        try
        {
            built = await new ImageBuilder(engines.Client(engines.Specs[0])).BuildAsync(EnvironmentSource.Parse(context.Get(_source)!), options, progress, cancellationToken);
        }
        catch (BuildException e) when (options.Quiet && e.Output.Count > 0)
        {
            // The step's output was not streamed: show it once, before the one-line error.
            foreach (var line in e.Output)
            {
                console.Progress($"[{Label(e.Stage)}] {line}");
            }
            throw;
        }
        if (context.Json)
        {
            console.WriteJson(new
            {
                tag = built.Tag,
                image_id = built.ImageId,
                size_bytes = built.SizeBytes,
                kind = built.Kind,
                source_digest = built.SourceDigest,
                pushed_as = built.PushedAs,
            });
        }
        else
        {
            console.Line($"built {built.Tag}  {built.ImageId[..Math.Min(19, built.ImageId.Length)]}  {Sizes.Human(built.SizeBytes)}  {built.Kind}" +
                (built.PushedAs is null ? "" : $"  pushed {built.PushedAs}"));
        }
        return ExitCodes.Ok;
    }

    internal static string Label(BuildStage stage) => stage switch
    {
        BuildStage.Source => "source",
        BuildStage.HostImage => "host image",
        BuildStage.EnvironmentImage => "environment",
        BuildStage.HostLayer => "host layer",
        BuildStage.Check => "check",
        _ => "push",
    };

    internal sealed class SynchronousReporter(Action<BuildProgress> report) : IProgress<BuildProgress>
    {
        public void Report(BuildProgress value) => report(value);
    }
}
