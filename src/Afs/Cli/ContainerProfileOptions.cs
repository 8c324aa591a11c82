using System.CommandLine;
using System.Globalization;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Afs.Cli;

/// <summary>
/// The options of <c>afs run</c>, <c>eval</c> and <c>score</c> that confine Docker containers: the limits, each
/// relaxation of the hardened profile (<see cref="ContainerHardening"/>), and the caps on containers of this afs.
/// </summary>
internal sealed class ContainerProfileOptions
{
    private static readonly AffinetesClientOptions ClientDefaults = new();

    public Option<string?> MemLimit { get; } = new("--mem-limit") { Description = $"memory limit per container: 512Mi, 8Gi, 1g (default {ContainerHardening.DefaultMemoryLimit})" };
    public Option<string?> CpuLimit { get; } = new("--cpu-limit") { Description = $"CPU limit per container: 2, 0.5, 2000m (default {ContainerHardening.DefaultCpuLimit})" };
    public Option<long?> PidsLimit { get; } = new("--pids-limit") { Description = $"processes and threads per container (default {ContainerHardening.DefaultPidsLimit})" };
    public Option<long?> OpenFiles { get; } = new("--nofile") { Description = $"open files per process in a container (default {ContainerHardening.DefaultOpenFilesLimit})" };
    public Option<string?> TmpSize { get; } = new("--tmp-size") { Description = $"size of the writable tmpfs on /tmp and of each --writable-path, counted in the memory limit (default {ContainerHardening.DefaultTmpSize})" };
    public Option<string[]> WritablePaths { get; } = new("--writable-path") { Description = "relaxation: one more writable tmpfs directory, e.g. /var/cache/app (repeatable; the root filesystem is read-only)", AllowMultipleArgumentsPerToken = false };
    public Option<bool> WritableRootfs { get; } = new("--writable-rootfs") { Description = "relaxation: keep the image's root filesystem writable (default: read-only, /tmp writable)" };
    public Option<bool> KeepImageUser { get; } = new("--keep-image-user") { Description = $"relaxation: run as the image's user even when it is root (default: {ContainerHardening.NonRootUser} for root images)" };
    public Option<string[]> CapAdd { get; } = new("--cap-add") { Description = "relaxation: give back a capability, e.g. NET_RAW (repeatable; default: all dropped)", AllowMultipleArgumentsPerToken = false };
    public Option<bool> AllowNewPrivileges { get; } = new("--allow-new-privileges") { Description = "relaxation: let setuid programs gain privileges (default: no-new-privileges)" };
    public Option<int?> MaxContainers { get; } = new("--max-containers") { Description = $"containers this afs may have at once; more are refused (default {ClientDefaults.MaxLiveContainers})" };
    public Option<int?> MaxEngineContainers { get; } = new("--max-engine-containers") { Description = $"affinetes containers an engine may run, anyone's; more are refused (default {ClientDefaults.MaxLiveContainersPerEngine})" };
    public Option<double?> MaxCreationsPerSecond { get; } = new("--max-creations-per-second") { Description = $"containers this afs creates per second at most; more wait (default {ClientDefaults.MaxContainerCreationsPerSecond.ToString(CultureInfo.InvariantCulture)})" };

    public void AddTo(Command command)
    {
        command.Options.Add(MemLimit);
        command.Options.Add(CpuLimit);
        command.Options.Add(PidsLimit);
        command.Options.Add(OpenFiles);
        command.Options.Add(TmpSize);
        command.Options.Add(WritablePaths);
        command.Options.Add(WritableRootfs);
        command.Options.Add(KeepImageUser);
        command.Options.Add(CapAdd);
        command.Options.Add(AllowNewPrivileges);
        command.Options.Add(MaxContainers);
        command.Options.Add(MaxEngineContainers);
        command.Options.Add(MaxCreationsPerSecond);
    }

    /// <summary>The first flag given that only Docker containers know (the profile's and the caps'; not the memory and CPU limits); null when none.</summary>
    public string? DockerOnlyFlag(CommandContext context) =>
        new Option[] { PidsLimit, OpenFiles, TmpSize, WritablePaths, WritableRootfs, KeepImageUser, CapAdd, AllowNewPrivileges, MaxContainers, MaxEngineContainers, MaxCreationsPerSecond }
            .FirstOrDefault(o => context.ParseResult.GetResult(o) is { Implicit: false })?.Name;

    /// <summary>The profile the flags ask for; the library validates it and says how to fix it.</summary>
    public ContainerHardening Hardening(CommandContext context) => new()
    {
        PidsLimit = context.Get(PidsLimit) ?? ContainerHardening.DefaultPidsLimit,
        OpenFilesLimit = context.Get(OpenFiles) ?? ContainerHardening.DefaultOpenFilesLimit,
        TmpSize = context.Get(TmpSize) ?? ContainerHardening.DefaultTmpSize,
        WritablePaths = context.Get(WritablePaths) ?? [],
        WritableRootFilesystem = context.Get(WritableRootfs),
        KeepImageUser = context.Get(KeepImageUser),
        AddCapabilities = context.Get(CapAdd) ?? [],
        AllowNewPrivileges = context.Get(AllowNewPrivileges),
    };

    /// <summary>
    /// Checks the limits, the profile and the caps the flags ask for, so bad values fail before anything is built or
    /// started; throws with what to fix.
    /// </summary>
    public void Check(CommandContext context)
    {
        new EnvironmentOptions { Image = "check", MemLimit = context.Get(MemLimit), CpuLimit = context.Get(CpuLimit), Docker = new DockerOptions { Hardening = Hardening(context) } }.Validate();
        CapsOptions(context);
    }

    /// <summary>
    /// A client with the caps the flags ask for. Disposing it leaves the environments <c>afs run</c> keeps running
    /// (they are released one by one) and ends its caps and LLM gateways.
    /// </summary>
    public IAffinetesClient Client(CommandContext context) => AffinetesClient.Create(context.LoggerFactory, CapsOptions(context));

    private AffinetesClientOptions CapsOptions(CommandContext context)
    {
        var options = new AffinetesClientOptions
        {
            ReleaseEnvironmentsOnDispose = false,
            MaxLiveContainers = context.Get(MaxContainers) ?? ClientDefaults.MaxLiveContainers,
            MaxLiveContainersPerEngine = context.Get(MaxEngineContainers) ?? ClientDefaults.MaxLiveContainersPerEngine,
            MaxContainerCreationsPerSecond = context.Get(MaxCreationsPerSecond) ?? ClientDefaults.MaxContainerCreationsPerSecond,
        };
        try
        {
            options.Validate();
        }
        catch (EnvironmentOptionsException e)
        {
            throw new UsageException($"{e.Message} (--max-containers, --max-engine-containers, --max-creations-per-second)");
        }
        return options;
    }
}
