namespace Affinetes.Injector.Detection;

/// <summary>Picks the kind of an environment directory from its files, or says what is missing.</summary>
public sealed class KindDetector(IReadOnlyList<IEnvironmentKind> kinds)
{
    /// <summary>Every kind this build knows.</summary>
    public static KindDetector Default { get; } = new([new PythonActorKind(), new CSharpActorKind(), new SidecarKind(), new HttpBasedKind()]);

    public IReadOnlyList<IEnvironmentKind> Kinds => kinds;

    public IEnvironmentKind? Find(string name) => kinds.FirstOrDefault(k => k.Name == name);

    /// <summary>The kind of <paramref name="directory"/>; throws <see cref="DetectionException"/> naming what is missing.</summary>
    public IEnvironmentKind Detect(string directory)
    {
        var claimed = kinds.Where(k => k.Claims(directory)).ToList();
        if (claimed.Count == 0)
        {
            var needs = string.Join("; ", kinds.Select(k => $"a {k.Name} environment needs {k.Requirements}"));
            throw new DetectionException($"no environment found in {directory}: {needs}");
        }
        if (claimed.Count > 1)
        {
            throw new DetectionException($"{directory} looks like several kinds at once ({string.Join(", ", claimed.Select(k => $"{k.Name}: {k.Requirements}"))}); " +
                "keep the files of the one you mean and move the others out of the directory");
        }
        var kind = claimed[0];
        var problems = kind.Problems(directory);
        if (problems.Count > 0)
        {
            throw new DetectionException($"{directory} is a {kind.Name} environment but cannot be built: {string.Join("; ", problems)}");
        }
        return kind;
    }
}

/// <summary>The directory is not a buildable environment; the message names what is missing.</summary>
public sealed class DetectionException(string message) : Exception(message);
