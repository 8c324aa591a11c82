using System.Text.RegularExpressions;

namespace Affinetes.ValidatorClient.Environments;

/// <summary>
/// How Docker-mode containers are confined (<see cref="DockerOptions.Hardening"/>). By default every container
/// runs with all capabilities dropped, <c>no-new-privileges</c>, Docker's default seccomp profile (never unconfined),
/// a read-only root filesystem with a size-limited tmpfs on <c>/tmp</c>, a non-root user (<see cref="NonRootUser"/>
/// when the image's own user is root), <see cref="PidsLimit"/> processes and threads, <see cref="OpenFilesLimit"/>
/// open files, and the memory and CPU defaults <see cref="DefaultMemoryLimit"/> / <see cref="DefaultCpuLimit"/>
/// unless <see cref="EnvironmentOptions.MemLimit"/> / <see cref="EnvironmentOptions.CpuLimit"/> say otherwise.
/// Each relaxation below is explicit, written on the container (label <c>affinetes.relaxations</c>), shown by
/// <c>afs ps</c> and in the log line of the container's start.
/// </summary>
public sealed partial record ContainerHardening
{
    /// <summary>Memory limit of a container whose options name none.</summary>
    public const string DefaultMemoryLimit = "4Gi";

    /// <summary>CPU limit of a container whose options name none.</summary>
    public const string DefaultCpuLimit = "2";

    /// <summary>Default of <see cref="PidsLimit"/>.</summary>
    public const long DefaultPidsLimit = 512;

    /// <summary>Default of <see cref="OpenFilesLimit"/>.</summary>
    public const long DefaultOpenFilesLimit = 8192;

    /// <summary>Default of <see cref="TmpSize"/>.</summary>
    public const string DefaultTmpSize = "256Mi";

    /// <summary>Default of <see cref="LogMaxSize"/>.</summary>
    public const string DefaultLogMaxSize = "10Mi";

    /// <summary>Default of <see cref="LogMaxFiles"/>.</summary>
    public const int DefaultLogMaxFiles = 3;

    /// <summary>The user (<c>nobody:nogroup</c>) a container runs as when its image's user is root and <see cref="KeepImageUser"/> is off.</summary>
    public const string NonRootUser = "65534:65534";

    /// <summary>Processes and threads the container may have at once (the engine's pids limit); at least 32.</summary>
    public long PidsLimit { get; init; } = DefaultPidsLimit;

    /// <summary>Open files per process (<c>nofile</c>, soft and hard); 256 to 1048576.</summary>
    public long OpenFilesLimit { get; init; } = DefaultOpenFilesLimit;

    /// <summary>Size of the writable tmpfs on <c>/tmp</c> and of each of <see cref="WritablePaths"/> (<c>"256Mi"</c>); it counts against the memory limit.</summary>
    public string TmpSize { get; init; } = DefaultTmpSize;

    /// <summary>
    /// Size of one file of a container's log on its engine (<c>json-file</c> driver, rotated): an environment that
    /// prints without end fills at most <see cref="LogMaxFiles"/> of these (<c>"10Mi"</c>; 1Mi to 1Gi).
    /// </summary>
    public string LogMaxSize { get; init; } = DefaultLogMaxSize;

    /// <summary>Log files kept per container, the oldest dropped first (1 to 100).</summary>
    public int LogMaxFiles { get; init; } = DefaultLogMaxFiles;

    /// <summary>Relaxation: more writable tmpfs directories (absolute paths, each <see cref="TmpSize"/>), for images that must write beside <c>/tmp</c>.</summary>
    public IReadOnlyList<string> WritablePaths { get; init; } = [];

    /// <summary>Relaxation: keep the image's root filesystem writable (as Docker does by default).</summary>
    public bool WritableRootFilesystem { get; init; }

    /// <summary>Relaxation: run as the image's own user even when it is root (capabilities stay dropped).</summary>
    public bool KeepImageUser { get; init; }

    /// <summary>
    /// Relaxation: capabilities given back after dropping all, e.g. <c>NET_RAW</c>, <c>CHOWN</c> (with or without
    /// <c>CAP_</c>). The engine gives them to a root user only: for an image whose user is root this needs
    /// <see cref="KeepImageUser"/> too (refused otherwise, saying so).
    /// </summary>
    public IReadOnlyList<string> AddCapabilities { get; init; } = [];

    /// <summary>Relaxation: let processes gain privileges through setuid binaries (drops <c>no-new-privileges</c>).</summary>
    public bool AllowNewPrivileges { get; init; }

    /// <summary>The capability names as the engine wants them: upper case, without <c>CAP_</c>, each once.</summary>
    internal IReadOnlyList<string> Capabilities =>
        [.. AddCapabilities.Select(c => c.Trim().ToUpperInvariant()).Select(c => c.StartsWith("CAP_", StringComparison.Ordinal) ? c[4..] : c).Distinct(StringComparer.Ordinal)];

    /// <summary>Checks the settings; returns the tmpfs size in bytes or throws <see cref="EnvironmentOptionsException"/> listing every problem.</summary>
    internal long Validate()
    {
        var errors = new List<string>();
        var tmpBytes = CollectErrors(errors);
        if (errors.Count > 0)
        {
            throw new EnvironmentOptionsException(errors);
        }
        return tmpBytes;
    }

    /// <summary>Adds every problem of the settings to <paramref name="errors"/>; returns the tmpfs size in bytes (0 when it does not parse).</summary>
    internal long CollectErrors(List<string> errors)
    {
        if (PidsLimit is < 32 or > 4_194_304)
        {
            errors.Add($"pids limit is {PidsLimit}; use 32 to 4194304 (the host alone runs about 30 threads; default {DefaultPidsLimit})");
        }
        if (OpenFilesLimit is < 256 or > 1_048_576)
        {
            errors.Add($"open files limit is {OpenFilesLimit}; use 256 to 1048576 (default {DefaultOpenFilesLimit})");
        }
        long tmpBytes = 0;
        try
        {
            tmpBytes = MemoryQuantity.Parse(TmpSize).Bytes;
            if (tmpBytes < 1L << 20)
            {
                errors.Add($"tmp size '{TmpSize}' is below 1Mi; the host needs a writable /tmp, use e.g. '64Mi' or more");
            }
        }
        catch (FormatException e)
        {
            errors.Add($"tmp size: {e.Message.Replace("memory limit", "size", StringComparison.Ordinal)}");
        }
        try
        {
            var logBytes = MemoryQuantity.Parse(LogMaxSize).Bytes;
            if (logBytes is < 1L << 20 or > 1L << 30)
            {
                errors.Add($"log size '{LogMaxSize}' must be from 1Mi to 1Gi (default {DefaultLogMaxSize})");
            }
        }
        catch (FormatException e)
        {
            errors.Add($"log size: {e.Message.Replace("memory limit", "size", StringComparison.Ordinal)}");
        }
        if (LogMaxFiles is < 1 or > 100)
        {
            errors.Add($"log files is {LogMaxFiles}; use 1 to 100 (default {DefaultLogMaxFiles})");
        }
        foreach (var path in WritablePaths)
        {
            if (!path.StartsWith('/') || path.TrimEnd('/').Length == 0 || path.Contains(':', StringComparison.Ordinal) || path.Contains(',', StringComparison.Ordinal)
                || path.Split('/').Any(part => part is "." or ".."))
            {
                errors.Add($"writable path '{path}' must be an absolute directory other than / without ':', ',', '.' or '..', e.g. /var/cache/app");
            }
        }
        foreach (var capability in Capabilities)
        {
            if (!CapabilityName().IsMatch(capability))
            {
                errors.Add($"capability '{capability}' is not a capability name; use e.g. NET_RAW, CHOWN or SYS_PTRACE");
            }
        }
        return tmpBytes;
    }

    [GeneratedRegex("^[A-Z][A-Z_]*$")]
    private static partial Regex CapabilityName();
}
