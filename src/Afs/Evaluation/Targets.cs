using Affinetes.Afs.Cli;
using Affinetes.Afs.Commands;
using Affinetes.Injector.Building;
using Affinetes.Injector.Sources;

namespace Affinetes.Afs.Evaluation;

/// <summary>What an evaluation runs against, as the user named it: an image, an environment directory, or a URL.</summary>
internal sealed record Target(TargetKind Kind, string Value)
{
    /// <summary>
    /// A URL is a running host; an existing directory is built; anything else is an image reference, unless it reads
    /// as a path (<c>./x</c>, <c>/x</c>, <c>x/</c>, or under a directory that exists here, as <c>environments/nope</c>):
    /// a mistyped directory is said so at once, not tried as an image to pull.
    /// </summary>
    public static Target Parse(string text)
    {
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            return new(TargetKind.Url, text);
        }
        if (Directory.Exists(text))
        {
            return new(TargetKind.Directory, text);
        }
        if (File.Exists(text))
        {
            throw new UsageException($"'{text}' is a file; give the environment's directory ({Path.GetDirectoryName(Path.GetFullPath(text))}) or an image");
        }
        if (ReadsAsPath(text))
        {
            var parent = Path.GetDirectoryName(Path.GetFullPath(text.TrimEnd('/')));
            throw new UsageException($"there is no directory '{text}'" + (parent is not null && Directory.Exists(parent) ? $" ({parent} has no '{Path.GetFileName(text.TrimEnd('/'))}')" : "") +
                "; give an environment directory or an image (an image named like a path here: write its registry too, e.g. docker.io/NAME)");
        }
        return new(TargetKind.Image, text);
    }

    /// <summary>An image reference for a command that starts images only; a directory or URL gets the command that takes it.</summary>
    public static string Image(string text, string command) => Parse(text) switch
    {
        { Kind: TargetKind.Image } target => target.Value,
        { Kind: TargetKind.Directory } => throw new UsageException(
            $"'{text}' is an environment directory, and afs {command} starts an image: build it first (afs build {text} --tag NAME:dev), " +
            $"then afs {command} NAME:dev; afs eval takes the directory itself"),
        _ => throw new UsageException($"'{text}' is a URL, and afs {command} starts an image (afs call and afs eval --url talk to a running host)"),
    };

    private static bool ReadsAsPath(string text)
    {
        if (text.StartsWith('/') || text.StartsWith("./", StringComparison.Ordinal) || text.StartsWith("../", StringComparison.Ordinal)
            || text.StartsWith('~') || text.EndsWith('/') || text is "." or "..")
        {
            return true;
        }
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && Directory.Exists(text[..slash]);
    }
}

internal enum TargetKind
{
    Image,
    Directory,
    Url,
}

/// <summary>Turns targets into images: a directory is built (saying what it does), an image's id is read for the cache.</summary>
internal static class Targets
{
    /// <summary>Builds <paramref name="directory"/> as <c>afs-eval/NAME:latest</c>, streaming the build's progress on stderr; returns the tag.</summary>
    public static async Task<string> BuildAsync(string directory, CommandContext context, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(directory);
        var name = new string([.. Path.GetFileName(full.TrimEnd(Path.DirectorySeparatorChar)).ToLowerInvariant()
            .Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-')]).Trim('-', '.', '_');
        var tag = $"afs-eval/{(name.Length == 0 ? "env" : name)}:latest";
        context.Console.Note($"building {directory} into {tag} (afs build; the first build of an environment takes a minute)");
        await using var engines = await Engines.ConnectAsync([context.Engines[0]], cancellationToken);
        var quiet = !context.Verbose;
        var progress = new BuildCommand.SynchronousReporter(line =>
        {
            if (!quiet || line.Stage is BuildStage.Check || line.Message.StartsWith("Step ", StringComparison.Ordinal))
            {
                context.Console.Progress($"[{BuildCommand.Label(line.Stage)}] {line.Message}");
            }
        });
        try
        {
            var built = await new ImageBuilder(engines.Client(engines.Specs[0])).BuildAsync(EnvironmentSource.Parse(full), new BuildOptions { Tag = tag, Quiet = false }, progress, cancellationToken);
            return built.Tag;
        }
        catch (BuildException e) when (quiet && e.Output.Count > 0)
        {
            foreach (var line in e.Output)
            {
                context.Console.Progress($"[{BuildCommand.Label(e.Stage)}] {line}");
            }
            throw;
        }
    }

    /// <summary>The image's id on the first engine (<c>sha256:...</c>): what identifies its code for the results cache.</summary>
    public static async Task<string> ImageIdAsync(string engine, string image, CancellationToken cancellationToken)
    {
        await using var engines = await Engines.ConnectAsync([engine], cancellationToken);
        return await engines.ImageIdAsync(engine, image, cancellationToken);
    }
}
