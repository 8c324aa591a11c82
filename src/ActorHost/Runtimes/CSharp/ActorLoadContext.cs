using System.Reflection;
using System.Runtime.Loader;

namespace Affinetes.ActorHost.Runtimes.CSharp;

/// <summary>
/// Loads a compiled actor and the libraries beside it. Everything the host itself has (the framework, the OpenAI
/// SDK, the actor API) comes from the host, so that the actor and the host share those types.
/// </summary>
internal sealed class ActorLoadContext(ActorSources sources) : AssemblyLoadContext("affinetes-actor", isCollectible: false)
{
    private static readonly HashSet<string> HostAssemblies = new(
        ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(Path.GetFileNameWithoutExtension)!, StringComparer.OrdinalIgnoreCase);

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (assemblyName.Name is null || HostAssemblies.Contains(assemblyName.Name))
        {
            return null;
        }
        var file = ActorSources.LibraryDirectories(sources.Directory)
            .Select(d => Path.Combine(d, assemblyName.Name + ".dll"))
            .FirstOrDefault(File.Exists);
        return file is null ? null : LoadFromAssemblyPath(file);
    }
}
