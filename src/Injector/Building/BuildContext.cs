using System.Formats.Tar;
using System.Text;
using System.Text.RegularExpressions;

namespace Affinetes.Injector.Building;

/// <summary>
/// The tar stream sent to the engine as a build context: the environment directory less <c>.git</c> and what its
/// <c>.dockerignore</c> excludes (patterns with <c>*</c>, <c>?</c>, <c>**</c> and <c>!</c> exceptions, last match wins).
/// </summary>
internal static class BuildContext
{
    public static async Task<Stream> CreateAsync(string directory, CancellationToken cancellationToken)
    {
        var ignore = await ReadIgnoreAsync(Path.Combine(directory, ".dockerignore"), cancellationToken);
        var buffer = new FileStream(Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose);
        await using (var tar = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (full, relative) in Walk(directory, ""))
            {
                if (relative == "Dockerfile" || relative == ".dockerignore" || !IsIgnored(ignore, relative))
                {
                    await tar.WriteEntryAsync(full, relative, cancellationToken);
                }
            }
        }
        buffer.Position = 0;
        return buffer;
    }

    /// <summary>The host layer's context: <paramref name="dockerfile"/> as <c>Dockerfile</c> and a published host as <c>linux-x64/</c>.</summary>
    public static async Task<Stream> ForHostLayerAsync(string publishedHost, string dockerfile, CancellationToken cancellationToken)
    {
        var buffer = new FileStream(Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose);
        await using (var tar = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            await tar.WriteEntryAsync(DockerfileEntry(dockerfile), cancellationToken);
            await tar.WriteEntryAsync(publishedHost, "linux-x64", cancellationToken);
            foreach (var (full, relative) in Walk(publishedHost, "linux-x64/"))
            {
                if (IsExecutable(full))
                {
                    await WriteExecutableAsync(tar, full, relative, cancellationToken);
                }
                else
                {
                    await tar.WriteEntryAsync(full, relative, cancellationToken);
                }
            }
        }
        buffer.Position = 0;
        return buffer;
    }

    /// <summary>
    /// The host's ELF programs (the apphost, createdump) are executable in the layer whatever their mode on disk: a
    /// host carried in a NuGet package (an installed afs tool) loses its modes, as zip files do.
    /// </summary>
    private static bool IsExecutable(string path)
    {
        if (Path.HasExtension(path) || !File.Exists(path) || new FileInfo(path) is not { Length: > 4 } file || file.LinkTarget is not null)
        {
            return false;
        }
        Span<byte> magic = stackalloc byte[4];
        using var stream = File.OpenRead(path);
        return stream.Read(magic) == 4 && magic.SequenceEqual((ReadOnlySpan<byte>)[0x7F, (byte)'E', (byte)'L', (byte)'F']);
    }

    private static async Task WriteExecutableAsync(TarWriter tar, string full, string relative, CancellationToken cancellationToken)
    {
        await using var data = File.OpenRead(full);
        var entry = new PaxTarEntry(TarEntryType.RegularFile, relative)
        {
            DataStream = data,
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherExecute,
            ModificationTime = File.GetLastWriteTimeUtc(full),
        };
        await tar.WriteEntryAsync(entry, cancellationToken);
    }

    private static PaxTarEntry DockerfileEntry(string dockerfile) => new(TarEntryType.RegularFile, "Dockerfile")
    {
        DataStream = new MemoryStream(Encoding.UTF8.GetBytes(dockerfile)),
        Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
    };

    /// <summary>A one-file context holding <paramref name="dockerfile"/> as <c>Dockerfile</c>.</summary>
    public static async Task<Stream> FromDockerfileAsync(string dockerfile, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        await using (var tar = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            await tar.WriteEntryAsync(DockerfileEntry(dockerfile), cancellationToken);
        }
        buffer.Position = 0;
        return buffer;
    }

    private static IEnumerable<(string Full, string Relative)> Walk(string directory, string prefix)
    {
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var relative = prefix + entry.Name;
            if (entry is DirectoryInfo sub && sub.LinkTarget is null)
            {
                if (sub.Name == ".git")
                {
                    continue;
                }
                yield return (sub.FullName, relative);
                foreach (var child in Walk(sub.FullName, relative + "/"))
                {
                    yield return child;
                }
            }
            else
            {
                yield return (entry.FullName, relative);
            }
        }
    }

    private sealed record IgnoreRule(Regex Pattern, bool Exception);

    private static async Task<List<IgnoreRule>> ReadIgnoreAsync(string path, CancellationToken cancellationToken)
    {
        var rules = new List<IgnoreRule>();
        if (!File.Exists(path))
        {
            return rules;
        }
        foreach (var raw in await File.ReadAllLinesAsync(path, cancellationToken))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            var exception = line.StartsWith('!');
            var pattern = (exception ? line[1..] : line).Trim().TrimStart('/').TrimEnd('/');
            if (pattern.StartsWith("./", StringComparison.Ordinal))
            {
                pattern = pattern[2..];
            }
            rules.Add(new IgnoreRule(new Regex("^" + ToRegex(pattern) + "(/.*)?$", RegexOptions.CultureInvariant), exception));
        }
        return rules;
    }

    private static string ToRegex(string glob)
    {
        var regex = new StringBuilder();
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            if (c == '*' && i + 1 < glob.Length && glob[i + 1] == '*')
            {
                regex.Append(".*");
                i++;
                if (i + 1 < glob.Length && glob[i + 1] == '/')
                {
                    i++;
                    regex.Append("/?");
                }
            }
            else
            {
                regex.Append(c switch
                {
                    '*' => "[^/]*",
                    '?' => "[^/]",
                    _ => Regex.Escape(c.ToString()),
                });
            }
        }
        return regex.ToString();
    }

    private static bool IsIgnored(List<IgnoreRule> rules, string relative)
    {
        var ignored = false;
        foreach (var rule in rules)
        {
            if (rule.Pattern.IsMatch(relative))
            {
                ignored = !rule.Exception;
            }
        }
        return ignored;
    }
}
