using Affinetes.Injector.Dockerfiles;

namespace Affinetes.Injector.Detection;

/// <summary>
/// One kind of environment (a Python actor today; C# actors and sidecars slot in beside it): how to recognise it
/// from its files, what it needs, and the host layer that serves it.
/// </summary>
public interface IEnvironmentKind
{
    /// <summary>Short name, as in <c>afs init --kind python</c>.</summary>
    string Name { get; }

    /// <summary>The value of the image label <c>affinetes.env.type</c>.</summary>
    string Label { get; }

    /// <summary>What a directory must hold to be this kind, in words for error messages.</summary>
    string Requirements { get; }

    /// <summary>Whether the directory looks like this kind at all (its marker file is there).</summary>
    bool Claims(string directory);

    /// <summary>What is missing or wrong for this kind; empty when the directory can be built.</summary>
    IReadOnlyList<string> Problems(string directory);

    /// <summary>The Dockerfile that layers the host onto the environment's own image.</summary>
    string HostLayerDockerfile(HostLayerInputs inputs);

    /// <summary>A working starter environment (relative path -> content), as <c>afs init</c> writes it.</summary>
    IReadOnlyDictionary<string, string> StarterFiles(string name);
}
