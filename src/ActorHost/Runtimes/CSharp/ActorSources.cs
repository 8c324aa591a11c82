using System.Security.Cryptography;
using System.Text;

namespace Affinetes.ActorHost.Runtimes.CSharp;

/// <summary>
/// What a C# actor is made of: its <c>Actor.cs</c> and any other <c>*.cs</c> beside it (compiled together), and the
/// libraries it may reference (<c>*.dll</c> beside it or in its <c>lib/</c> folder). Its key (a hash of all of them
/// and of the host's version) names the compiled assembly in the cache.
/// </summary>
internal sealed record ActorSources(string MainFile, IReadOnlyList<string> SourceFiles, IReadOnlyList<string> Libraries, string Key)
{
    /// <summary>Reads the sources of <paramref name="mainFile"/>; throws <see cref="ActorStartupException"/> when it is missing.</summary>
    public static ActorSources Read(string mainFile, string hostVersion)
    {
        var path = Path.GetFullPath(mainFile);
        if (!File.Exists(path))
        {
            throw new ActorStartupException($"actor source {path} does not exist (set AFFINETES_ENV_FILE to your Actor.cs)");
        }
        var directory = Path.GetDirectoryName(path)!;
        var sources = System.IO.Directory.EnumerateFiles(directory, "*.cs").Where(f => f != path).Order(StringComparer.Ordinal).Prepend(path).ToList();
        var libraries = LibraryDirectories(directory)
            .SelectMany(d => System.IO.Directory.EnumerateFiles(d, "*.dll"))
            .Order(StringComparer.Ordinal).ToList();

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"affinetes-host {hostVersion}; compile v1\n"));
        foreach (var file in sources.Concat(libraries))
        {
            hash.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(directory, file) + "\n"));
            hash.AppendData(File.ReadAllBytes(file));
        }
        var key = Convert.ToHexStringLower(hash.GetHashAndReset())[..20];
        return new ActorSources(path, sources, libraries, key);
    }

    /// <summary>Folders whose DLLs an actor can use: its own and its <c>lib/</c>.</summary>
    public static IEnumerable<string> LibraryDirectories(string actorDirectory) =>
        new[] { actorDirectory, Path.Combine(actorDirectory, "lib") }.Where(System.IO.Directory.Exists);

    public string Directory => Path.GetDirectoryName(MainFile)!;

    /// <summary>The assembly's name, unique per content.</summary>
    public string AssemblyName => "affinetes-actor-" + Key;

    public string CachedAssemblyPath(string cacheDirectory) => Path.Combine(cacheDirectory, AssemblyName + ".dll");
}
