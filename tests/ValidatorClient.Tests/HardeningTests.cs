using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Backends.Docker;
using Affinetes.ValidatorClient.Environments;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>
/// The hardened container profile, observed from inside real containers: an actor tries each forbidden thing and
/// reports what the OS answered (Envs/hardening_env.py); each relaxation lifts its restriction.
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(DockerModeCollection.Name)]
public sealed class HardeningTests(DockerModeFixture fixture)
{
    private const int EROFS = 30;
    private const int ENOSPC = 28;
    private const int EAGAIN = 11;
    private const int EPERM = 1;

    private static Dictionary<string, object?> Kw(params (string, object?)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    private static async Task<JsonElement> Call(IEnvironment env, string method, params (string, object?)[] kwargs) =>
        await env.CallAsync(method, kwargs: Kw(kwargs), timeout: TimeSpan.FromSeconds(60)).Within(TimeSpan.FromSeconds(90), method);

    /// <summary>Loads with the environment's log lines going to <paramref name="logs"/>.</summary>
    private static Task<IEnvironment> LoadAsync(EnvironmentOptions options, List<string> logs, string what) =>
        AffinetesClient.LoadEnvAsync(options, LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new ListLoggerProvider(logs))))
            .Within(TimeSpan.FromMinutes(2), what);

    private static void AssertRefused(JsonElement answer, int errno, string what)
    {
        Assert.False(answer.GetProperty("ok").GetBoolean(), $"{what} succeeded; it must fail with errno {errno}: {answer}");
        Assert.True(errno == answer.GetProperty("errno").GetInt32(), $"{what}: expected errno {errno}, got {answer}");
    }

    private static void AssertAllowed(JsonElement answer, string what) =>
        Assert.True(answer.GetProperty("ok").GetBoolean(), $"{what} failed: {answer}");

    /// <summary>An environment that prints without end fills at most the rotated log files its engine keeps.</summary>
    [Fact]
    public async Task ContainerLogs_AreRotated_AndBoundedOnTheEngine()
    {
        var logs = new List<string>();
        await using var env = await LoadAsync(new EnvironmentOptions
        {
            Image = fixture.HardeningImage,
            Docker = new DockerOptions { Hardening = new ContainerHardening { LogMaxSize = "1Mi", LogMaxFiles = 2 } },
        }, logs, "loading the hardening environment");
        var inspected = await fixture.Docker.Containers.InspectContainerAsync(env.Replicas[0].Id);
        Assert.Equal("json-file", inspected.HostConfig!.LogConfig!.Type);
        Assert.Equal("1024k", inspected.HostConfig.LogConfig.Config["max-size"]);
        Assert.Equal("2", inspected.HostConfig.LogConfig.Config["max-file"]);
        Assert.EndsWith(" log=2x1Mi", inspected.Config!.Labels![ContainerLabels.Limits]);

        AssertAllowed(await Call(env, "shout", ("mb", 12)), "printing 12 MiB");
        var directory = Path.GetDirectoryName(inspected.LogPath)!;
        long total = 0;
        await Bounded.Until(() =>
        {
            total = LogBytes(directory, Path.GetFileName(inspected.LogPath));
            return Task.FromResult(total > 0);
        }, TimeSpan.FromSeconds(30), "the container's log on disk");
        // 12 MiB printed (about 13 MiB as json-file lines); at most two files of 1 MiB are kept.
        Assert.InRange(total, 1, 2 * 1024 * 1024 + 64 * 1024);
    }

    /// <summary>The bytes of a container's log files; a file the engine rotates away between the listing and its size counts 0.</summary>
    private static long LogBytes(string directory, string logFile)
    {
        long total = 0;
        foreach (var file in Directory.GetFiles(directory, logFile + "*"))
        {
            try
            {
                total += new FileInfo(file).Length;
            }
            catch (FileNotFoundException)
            {
            }
        }
        return total;
    }

    [Fact]
    public async Task Default_EachRestriction_IsInForceInsideTheContainer()
    {
        var logs = new List<string>();
        // Only the pids limit and the tmpfs size are lowered, so that reaching them stays small and quick.
        await using var env = await LoadAsync(new EnvironmentOptions
        {
            Image = fixture.HardeningImage,
            Docker = new DockerOptions { Hardening = new ContainerHardening { PidsLimit = 64, TmpSize = "16Mi" } },
        }, logs, "loading the hardening environment");

        AssertRefused(await Call(env, "write_file", ("path", "/probe")), EROFS, "writing to /");
        AssertRefused(await Call(env, "write_file", ("path", "/var/tmp/probe")), EROFS, "writing to /var/tmp (world-writable in the image)");
        AssertAllowed(await Call(env, "write_file", ("path", "/tmp/probe")), "writing to /tmp");

        var fill = await Call(env, "fill", ("path", "/tmp/fill"), ("max_mb", 64));
        AssertRefused(fill, ENOSPC, "writing 64 MiB to a 16 MiB /tmp");
        Assert.InRange(fill.GetProperty("mb").GetInt32(), 1, 16);

        var spawn = await Call(env, "spawn", ("count", 200));
        AssertRefused(spawn, EAGAIN, "starting 200 processes under a pids limit of 64");
        Assert.InRange(spawn.GetProperty("started").GetInt32(), 0, 63);
        // The host survived reaching the limit and still answers.
        AssertAllowed(await Call(env, "write_file", ("path", "/tmp/after-spawn")), "a call after the pids limit was reached");

        AssertRefused(await Call(env, "raw_socket"), EPERM, "opening a raw socket (CAP_NET_RAW)");
        AssertRefused(await Call(env, "chown", ("path", "/tmp/owned")), EPERM, "chown (CAP_CHOWN)");
        AssertRefused(await Call(env, "mknod", ("path", "/tmp/null")), EPERM, "mknod (CAP_MKNOD)");

        var status = await Call(env, "status");
        Assert.Equal(65534, status.GetProperty("uid").GetInt32());
        Assert.Equal(65534, status.GetProperty("gid").GetInt32());
        Assert.Equal("/tmp", status.GetProperty("home").GetString());
        Assert.Equal("1", status.GetProperty("no_new_privs").GetString());
        Assert.Equal("0000000000000000", status.GetProperty("cap_eff").GetString());
        Assert.Equal("0000000000000000", status.GetProperty("cap_bnd").GetString());
        Assert.Equal("2", status.GetProperty("seccomp").GetString()); // a filter: Docker's default profile, not unconfined (0)
        Assert.Equal([8192, 8192], status.GetProperty("nofile").EnumerateArray().Select(n => n.GetInt64()));
        Assert.Equal("8192", status.GetProperty("shell_nofile").GetString());
        Assert.Contains("size=16384k", status.GetProperty("tmp_mount_options").GetString());
        Assert.Equal((4L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture), status.GetProperty("memory_max").GetString()); // the default 4Gi
        Assert.Equal("200000 100000", status.GetProperty("cpu_max").GetString()); // the default 2 CPUs
        Assert.Equal("64", status.GetProperty("pids_max").GetString());

        var inspected = await fixture.Docker.Containers.InspectContainerAsync(env.Replicas[0].Id);
        Assert.Equal("none", inspected.Config!.Labels![ContainerLabels.Relaxations]);
        Assert.Equal("memory=4Gi cpus=2 pids=64 nofile=8192 tmp=16Mi log=3x10Mi", inspected.Config!.Labels![ContainerLabels.Limits]);
        Assert.True(inspected.HostConfig!.ReadonlyRootfs);
        Assert.Equal(["ALL"], inspected.HostConfig!.CapDrop);
        Assert.DoesNotContain(inspected.HostConfig.SecurityOpt ?? [], o => o.Contains("seccomp", StringComparison.Ordinal));
        lock (logs)
        {
            Assert.Contains(logs, l => l.StartsWith("4003 Information", StringComparison.Ordinal) && l.Contains("hardened (user 65534:65534, memory=4Gi cpus=2 pids=64", StringComparison.Ordinal));
            Assert.DoesNotContain(logs, l => l.StartsWith("4006 ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task EachRelaxation_LiftsItsRestriction_AndIsLabelledAndLogged()
    {
        var logs = new List<string>();
        await using var env = await LoadAsync(new EnvironmentOptions
        {
            Image = fixture.HardeningImage,
            MemLimit = "300Mi",
            CpuLimit = "0.5",
            Docker = new DockerOptions
            {
                Hardening = new ContainerHardening
                {
                    WritableRootFilesystem = true,
                    WritablePaths = ["/scratch"],
                    KeepImageUser = true,
                    AddCapabilities = ["net_raw"],
                    AllowNewPrivileges = true,
                    PidsLimit = 300,
                    OpenFilesLimit = 1024,
                },
            },
        }, logs, "loading the relaxed hardening environment");

        AssertAllowed(await Call(env, "write_file", ("path", "/probe")), "writing to / with --writable-rootfs (as the image's root)");
        AssertAllowed(await Call(env, "write_file", ("path", "/scratch/probe")), "writing to a --writable-path");
        AssertAllowed(await Call(env, "raw_socket"), "a raw socket with NET_RAW given back");
        AssertRefused(await Call(env, "chown", ("path", "/tmp/owned")), EPERM, "chown (CAP_CHOWN was not given back)");

        var status = await Call(env, "status");
        Assert.Equal(0, status.GetProperty("uid").GetInt32());
        Assert.Equal("0", status.GetProperty("no_new_privs").GetString());
        Assert.Equal("0000000000002000", status.GetProperty("cap_eff").GetString()); // CAP_NET_RAW (13) alone
        Assert.Equal("2", status.GetProperty("seccomp").GetString());
        Assert.Equal([1024, 1024], status.GetProperty("nofile").EnumerateArray().Select(n => n.GetInt64()));
        Assert.Equal((300L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), status.GetProperty("memory_max").GetString());
        Assert.Equal("50000 100000", status.GetProperty("cpu_max").GetString());
        Assert.Equal("300", status.GetProperty("pids_max").GetString());

        var inspected = await fixture.Docker.Containers.InspectContainerAsync(env.Replicas[0].Id);
        const string relaxations = "writable-rootfs,writable=/scratch,image-user=root,cap-add=NET_RAW,new-privileges";
        Assert.Equal(relaxations, inspected.Config!.Labels![ContainerLabels.Relaxations]);
        Assert.Equal("memory=300Mi cpus=0.5 pids=300 nofile=1024 tmp=256Mi log=3x10Mi", inspected.Config!.Labels![ContainerLabels.Limits]);
        lock (logs)
        {
            Assert.Contains(logs, l => l.StartsWith("4006 Warning", StringComparison.Ordinal) && l.EndsWith("runs with the hardened profile relaxed: " + relaxations, StringComparison.Ordinal));
        }

        // afs ps reads the same labels back.
        var owned = await OwnedContainers.ListAsync(fixture.Docker, fixture.HardeningImage).Within();
        Assert.Contains(owned, c => c.Id == env.Replicas[0].Id && c.Relaxations == relaxations);
    }

    [Fact]
    public async Task ImageThatWritesOutsideTmp_FailsSayingWhichRelaxationHelps_AndStartsWithIt()
    {
        var e = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => AffinetesClient.LoadEnvAsync(new EnvironmentOptions
        {
            Image = fixture.WritingImage,
        }).Within(TimeSpan.FromMinutes(2), "loading an image that writes to /app"));
        Assert.Contains("Read-only file system", e.Message);
        Assert.Contains("--writable-path", e.Message);
        Assert.Contains("ContainerHardening.WritablePaths", e.Message);
        Assert.Empty(await fixture.ContainersOfAsync(fixture.WritingImage));

        // The directory it writes to, as a writable tmpfs (writable by its non-root user too).
        await using var env = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions
        {
            Image = fixture.WritingImage,
            Docker = new DockerOptions { Hardening = new ContainerHardening { WritablePaths = ["/var/lib/state"] } },
        }).Within(TimeSpan.FromMinutes(2), "loading it with a writable path");
        Assert.Equal("written", (await Call(env, "state")).GetString());
    }
}
