using System.Diagnostics;

namespace Affinetes.Injector.Sources;

/// <summary>
/// Where an environment comes from: a local directory, or a git URL written <c>url#ref:subdir</c> (ref: a branch,
/// tag or commit SHA; both parts optional), as the original accepts.
/// </summary>
public sealed record EnvironmentSource
{
    public string? LocalPath { get; init; }
    public string? GitUrl { get; init; }
    public string? GitRef { get; init; }
    public string? Subdirectory { get; init; }

    public bool IsGit => GitUrl is not null;

    public override string ToString() => IsGit
        ? $"{GitUrl}{(GitRef is null ? "" : "#" + GitRef)}{(Subdirectory is null ? "" : (GitRef is null ? "#:" : ":") + Subdirectory)}"
        : LocalPath!;

    /// <summary>Reads a source argument; a path that exists is a directory, a URL-looking value is git.</summary>
    public static EnvironmentSource Parse(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        if (Directory.Exists(value))
        {
            return new EnvironmentSource { LocalPath = Path.GetFullPath(value) };
        }
        if (!LooksLikeGit(value))
        {
            throw new SourceException($"'{value}' is neither an existing directory nor a git URL (https://..., ssh://..., git@host:repo, file:///path/repo.git, optionally #ref:subdir)");
        }
        var hash = value.IndexOf('#', StringComparison.Ordinal);
        var url = hash < 0 ? value : value[..hash];
        string? gitRef = null, subdir = null;
        if (hash >= 0)
        {
            var fragment = value[(hash + 1)..];
            var colon = fragment.IndexOf(':', StringComparison.Ordinal);
            gitRef = colon < 0 ? fragment : fragment[..colon];
            subdir = colon < 0 ? null : fragment[(colon + 1)..].Trim('/');
        }
        if (subdir is not null && (subdir.Split('/').Contains("..") || Path.IsPathRooted(subdir)))
        {
            throw new SourceException($"subdirectory '{subdir}' in '{value}' must be a relative path inside the repository");
        }
        return new EnvironmentSource
        {
            GitUrl = url,
            GitRef = string.IsNullOrEmpty(gitRef) ? null : gitRef,
            Subdirectory = string.IsNullOrEmpty(subdir) ? null : subdir,
        };
    }

    private static bool LooksLikeGit(string value) =>
        value.StartsWith("https://", StringComparison.Ordinal) || value.StartsWith("http://", StringComparison.Ordinal)
        || value.StartsWith("ssh://", StringComparison.Ordinal) || value.StartsWith("git://", StringComparison.Ordinal)
        || value.StartsWith("file://", StringComparison.Ordinal) || value.StartsWith("git@", StringComparison.Ordinal)
        || value.Split('#')[0].EndsWith(".git", StringComparison.Ordinal);

    /// <summary>
    /// Makes the source available as a local directory: the directory itself, or a fresh clone checked out at the
    /// ref. Dispose the result to remove a clone. Nothing from the source is executed.
    /// </summary>
    public async Task<MaterializedSource> MaterializeAsync(CancellationToken cancellationToken)
    {
        if (!IsGit)
        {
            return new MaterializedSource(LocalPath!, null);
        }
        var clone = Directory.CreateTempSubdirectory("affinetes-git-").FullName;
        try
        {
            await GitAsync(null, cancellationToken, "clone", "--quiet", "--no-checkout", "--", GitUrl!, clone);
            await GitAsync(clone, cancellationToken, "-c", "advice.detachedHead=false", "checkout", "--quiet", GitRef ?? "HEAD");
            var directory = Subdirectory is null ? clone : Path.Combine(clone, Subdirectory);
            if (!Directory.Exists(directory))
            {
                throw new SourceException($"'{Subdirectory}' does not exist in {GitUrl} at {GitRef ?? "HEAD"}");
            }
            return new MaterializedSource(directory, clone);
        }
        catch
        {
            MaterializedSource.Remove(clone);
            throw;
        }
    }

    private static async Task GitAsync(string? workingDirectory, CancellationToken cancellationToken, params string[] args)
    {
        var start = new ProcessStartInfo("git") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }
        start.Environment["GIT_TERMINAL_PROMPT"] = "0";
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SourceException($"git is needed for git sources and was not found: {e.Message} (apt-get install -y git)");
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.StandardOutput.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0)
            {
                throw new SourceException($"git {string.Join(' ', args.Where(a => !a.StartsWith('/') || a.Length < 2).Take(3))} failed: {(await stderr).Trim()}");
            }
        }
    }
}

/// <summary>A source as a local directory; disposing removes the temporary clone, if any.</summary>
public sealed class MaterializedSource(string directory, string? temporaryRoot) : IDisposable
{
    public string Directory { get; } = directory;

    public void Dispose() => Remove(temporaryRoot);

    internal static void Remove(string? path)
    {
        if (path is not null && System.IO.Directory.Exists(path))
        {
            System.IO.Directory.Delete(path, recursive: true);
        }
    }
}

/// <summary>The source cannot be read: the message says which and why.</summary>
public sealed class SourceException(string message) : Exception(message);
