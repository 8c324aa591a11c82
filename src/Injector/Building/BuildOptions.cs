namespace Affinetes.Injector.Building;

/// <summary>What to build and how, as <c>afs build</c> takes it.</summary>
public sealed record BuildOptions
{
    /// <summary>The final image's tag, e.g. <c>my-env:v1</c>.</summary>
    public required string Tag { get; init; }

    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    public bool NoCache { get; init; }

    /// <summary>Only errors and the result are reported, not the build's output lines.</summary>
    public bool Quiet { get; init; }

    /// <summary>Push after building (to <see cref="Registry"/> when given, else to the registry the tag names).</summary>
    public bool Push { get; init; }

    /// <summary>Registry host to tag for and push to, e.g. <c>127.0.0.1:5000</c>.</summary>
    public string? Registry { get; init; }

    /// <summary>The image holding the published host; default: <see cref="HostLayerSource.Locate"/>'s, built or pulled when missing.</summary>
    public string? HostImage { get; init; }
}

/// <summary>What was built.</summary>
public sealed record BuildResult(string Tag, string ImageId, long SizeBytes, string Kind, string SourceDigest, string? PushedAs);

/// <summary>One line of build progress; <see cref="Stage"/> says which step it comes from.</summary>
public sealed record BuildProgress(BuildStage Stage, string Message);

public enum BuildStage
{
    Source,
    /// <summary>Finding, pulling or building the host-layer image.</summary>
    HostImage,
    EnvironmentImage,
    HostLayer,
    Check,
    Push,
}

/// <summary>
/// The build failed; the message carries the engine's or the host's own words on one line, <see cref="Output"/> the
/// failing step's own output (plain text, without the build's progress noise).
/// </summary>
public sealed class BuildException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The stage that failed.</summary>
    public BuildStage Stage { get; init; }

    /// <summary>The output of the step that failed, line by line (empty when it printed nothing).</summary>
    public IReadOnlyList<string> Output { get; init; } = [];
}
