using System.Security.Cryptography;
using System.Text;

namespace Affinetes.Injector.Sources;

/// <summary>
/// A content hash of an environment's source tree, stored in the image label <c>affinetes.source.digest</c> so a
/// validator can tell which sources an image was built from. Paths, the executable bit and contents count; order,
/// timestamps, <c>.git</c> and Python caches do not.
/// </summary>
public static class SourceDigest
{
    private static readonly HashSet<string> IgnoredDirectories = new(StringComparer.Ordinal) { ".git", "__pycache__", ".mypy_cache", ".pytest_cache" };

    /// <summary>Returns <c>sha256:&lt;hex&gt;</c> over the tree under <paramref name="directory"/>.</summary>
    public static string Compute(string directory)
    {
        var root = new DirectoryInfo(directory);
        if (!root.Exists)
        {
            throw new DirectoryNotFoundException($"environment directory '{directory}' does not exist");
        }
        var files = new List<(string Relative, FileInfo File)>();
        Collect(root, "", files);
        files.Sort((a, b) => string.CompareOrdinal(a.Relative, b.Relative));

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[8];
        foreach (var (relative, file) in files)
        {
            var executable = !OperatingSystem.IsWindows() && (file.UnixFileMode & UnixFileMode.UserExecute) != 0;
            hash.AppendData(Encoding.UTF8.GetBytes($"{relative}\0{(executable ? 'x' : '-')}\0"));
            var content = File.ReadAllBytes(file.FullName);
            BitConverter.TryWriteBytes(length, (long)content.Length);
            hash.AppendData(length);
            hash.AppendData(content);
        }
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void Collect(DirectoryInfo directory, string prefix, List<(string, FileInfo)> files)
    {
        foreach (var entry in directory.EnumerateFileSystemInfos())
        {
            var relative = prefix + entry.Name;
            if (entry is DirectoryInfo sub)
            {
                if (!IgnoredDirectories.Contains(sub.Name) && sub.LinkTarget is null)
                {
                    Collect(sub, relative + "/", files);
                }
            }
            else if (entry is FileInfo file && !file.Name.EndsWith(".pyc", StringComparison.Ordinal))
            {
                files.Add((relative, file));
            }
        }
    }
}
