using System.Globalization;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Docker.DotNet.Models;

namespace Affinetes.ValidatorClient.Backends.Docker;

/// <summary>
/// The security and resource part of a container's <see cref="HostConfig"/>, made from <see cref="ContainerHardening"/>,
/// the environment's limits and the image's own user; also the labels and the log text that say what was relaxed.
/// Docker's default seccomp profile is kept by never naming one (there is no option to turn it off).
/// </summary>
internal sealed class ContainerProfile
{
    private readonly ContainerHardening _hardening;
    private readonly long _tmpBytes;

    private ContainerProfile(ContainerHardening hardening, CpuQuantity cpu, MemoryQuantity memory, string? user, IReadOnlyList<string> relaxations)
    {
        _hardening = hardening;
        _tmpBytes = hardening.Validate();
        Cpu = cpu;
        Memory = memory;
        User = user;
        Relaxations = relaxations;
    }

    public CpuQuantity Cpu { get; }

    public MemoryQuantity Memory { get; }

    /// <summary>The user the container runs as, when it is not the image's own (<c>65534:65534</c> for an image that runs as root).</summary>
    public string? User { get; }

    /// <summary>What this container runs with beyond the hardened default, each as <c>name</c> or <c>name=value</c>.</summary>
    public IReadOnlyList<string> Relaxations { get; }

    /// <summary>Value of <see cref="ContainerLabels.Relaxations"/>.</summary>
    public string RelaxationsLabel => Relaxations.Count == 0 ? "none" : string.Join(',', Relaxations);

    /// <summary>Value of <see cref="ContainerLabels.Limits"/>.</summary>
    public string LimitsLabel => string.Create(CultureInfo.InvariantCulture,
        $"memory={Memory} cpus={Cpu.Millicores / 1000m} pids={_hardening.PidsLimit} nofile={_hardening.OpenFilesLimit} tmp={new MemoryQuantity(_tmpBytes)} log={_hardening.LogMaxFiles}x{MemoryQuantity.Parse(_hardening.LogMaxSize)}");

    /// <summary>The profile for one image: <paramref name="imageUser"/> is its <c>USER</c> (empty or <c>root</c> means root).</summary>
    public static ContainerProfile For(ContainerHardening hardening, CpuQuantity? cpu, MemoryQuantity? memory, string? imageUser)
    {
        var relaxations = new List<string>();
        if (hardening.WritableRootFilesystem)
        {
            relaxations.Add("writable-rootfs");
        }
        relaxations.AddRange(hardening.WritablePaths.Select(p => "writable=" + p));
        string? user = null;
        if (IsRoot(imageUser))
        {
            if (hardening.KeepImageUser)
            {
                relaxations.Add("image-user=root");
            }
            else
            {
                user = ContainerHardening.NonRootUser;
            }
        }
        if (hardening.Capabilities.Count > 0 && user is not null)
        {
            // The engine gives added capabilities to root only (a non-root user gets them in its bounding set, not in effect).
            throw new EnvironmentOptionsException(
                $"capabilities given back ({string.Join(", ", hardening.Capabilities)}) reach a root user only, and the image's root user is replaced by {user}: " +
                "add --keep-image-user (ContainerHardening.KeepImageUser) to run it as root with just those capabilities");
        }
        if (hardening.Capabilities.Count > 0)
        {
            relaxations.Add("cap-add=" + string.Join('+', hardening.Capabilities));
        }
        if (hardening.AllowNewPrivileges)
        {
            relaxations.Add("new-privileges");
        }
        return new ContainerProfile(hardening,
            cpu ?? CpuQuantity.Parse(ContainerHardening.DefaultCpuLimit),
            memory ?? MemoryQuantity.Parse(ContainerHardening.DefaultMemoryLimit),
            user, relaxations);
    }

    /// <summary>Whether a <c>USER</c> value means root: empty, <c>root</c> or uid 0 (with any group).</summary>
    internal static bool IsRoot(string? user)
    {
        var name = (user ?? "").Split(':')[0].Trim();
        return name is "" or "root" or "0";
    }

    /// <summary>Sets the confinement and the limits on <paramref name="hostConfig"/>.</summary>
    public void Apply(HostConfig hostConfig)
    {
        hostConfig.CapDrop = ["ALL"];
        hostConfig.CapAdd = [.. _hardening.Capabilities];
        hostConfig.SecurityOpt = _hardening.AllowNewPrivileges ? [] : ["no-new-privileges:true"];
        hostConfig.PidsLimit = _hardening.PidsLimit;
        hostConfig.Memory = Memory.Bytes;
        hostConfig.MemorySwap = Memory.Bytes; // no swap beyond the limit
        hostConfig.NanoCPUs = Cpu.NanoCpus;
        hostConfig.ReadonlyRootfs = !_hardening.WritableRootFilesystem;
        var size = _tmpBytes.ToString(CultureInfo.InvariantCulture);
        hostConfig.Tmpfs = new Dictionary<string, string> { ["/tmp"] = $"rw,nosuid,nodev,size={size},mode=1777" };
        foreach (var path in _hardening.WritablePaths)
        {
            hostConfig.Tmpfs[path.TrimEnd('/')] = $"rw,nosuid,nodev,size={size},mode=1777";
        }
        hostConfig.Ulimits = [new Ulimit { Name = "nofile", Soft = _hardening.OpenFilesLimit, Hard = _hardening.OpenFilesLimit }];
        // Rotated, whatever the engine's default driver: a container that prints without end cannot fill its disk.
        hostConfig.LogConfig = new LogConfig
        {
            Type = "json-file",
            Config = new Dictionary<string, string>
            {
                ["max-size"] = (MemoryQuantity.Parse(_hardening.LogMaxSize).Bytes / 1024).ToString(CultureInfo.InvariantCulture) + "k",
                ["max-file"] = _hardening.LogMaxFiles.ToString(CultureInfo.InvariantCulture),
            },
        };
    }

    /// <summary>
    /// Environment for a container whose user was switched: <c>HOME=/tmp</c> (nobody's home does not exist, and
    /// libraries that keep caches under <c>~</c> then write to the tmpfs), unless the environment sets HOME itself.
    /// </summary>
    public IEnumerable<string> Environment(IReadOnlyDictionary<string, string> envVars) =>
        User is not null && !envVars.ContainsKey("HOME") ? ["HOME=/tmp"] : [];

    /// <summary>What goes into the container's spec hash: a container started with another profile is never reused.</summary>
    public string SpecText => $"{User}|{RelaxationsLabel}|{LimitsLabel}";

    /// <summary>One line for the log of the container's start.</summary>
    public string Summary => (Relaxations.Count == 0 ? "hardened" : $"hardened except {RelaxationsLabel}") +
        $" (user {User ?? "of the image"}, {LimitsLabel})";

    /// <summary>
    /// Which relaxation the words of a failed start (the host's reason, the log tail) point at, naming the library
    /// option and the afs flag; null when they point at none.
    /// </summary>
    public string? Hint(string text)
    {
        var hints = new List<string>();
        if (!_hardening.WritableRootFilesystem && (text.Contains("Read-only file system", StringComparison.OrdinalIgnoreCase) || text.Contains("EROFS", StringComparison.Ordinal)))
        {
            hints.Add("it writes outside /tmp, on the read-only root filesystem: give it a writable directory (afs --writable-path DIR, ContainerHardening.WritablePaths) or a writable root (afs --writable-rootfs, ContainerHardening.WritableRootFilesystem)");
        }
        if (User is not null && (text.Contains("Permission denied", StringComparison.OrdinalIgnoreCase) || text.Contains("EACCES", StringComparison.Ordinal)))
        {
            hints.Add($"it ran as {User} instead of the image's root user: keep the image's user (afs --keep-image-user, ContainerHardening.KeepImageUser) or give the image a non-root USER that can read its files");
        }
        if (text.Contains("Operation not permitted", StringComparison.OrdinalIgnoreCase) || text.Contains("EPERM", StringComparison.Ordinal))
        {
            hints.Add("it needs a capability (all are dropped): give one back (afs --cap-add NAME, ContainerHardening.AddCapabilities; capabilities reach a root user only, so for an image whose user is root add --keep-image-user)");
        }
        if (text.Contains("No space left on device", StringComparison.OrdinalIgnoreCase))
        {
            hints.Add($"its tmpfs is full: make it larger (afs --tmp-size SIZE, ContainerHardening.TmpSize; now {new MemoryQuantity(_tmpBytes)})");
        }
        if (text.Contains("Resource temporarily unavailable", StringComparison.OrdinalIgnoreCase) || text.Contains("can't start new thread", StringComparison.OrdinalIgnoreCase))
        {
            hints.Add($"it may have hit the pids limit: raise it (afs --pids-limit N, ContainerHardening.PidsLimit; now {_hardening.PidsLimit})");
        }
        return hints.Count == 0 ? null : "the container runs hardened; " + string.Join("; ", hints);
    }
}
