using System.Diagnostics;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Gateway;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>The gateways' private directories: those of a killed owner are removed by the next gateway; live ones stay.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class GatewayDirectoriesTests : IDisposable
{
    private readonly DirectoryInfo _parent = Directory.CreateTempSubdirectory("affinetes-gwdirs-");

    public void Dispose() => _parent.Delete(recursive: true);

    private string Make(string name, bool withLock)
    {
        var directory = Directory.CreateDirectory(Path.Combine(_parent.FullName, GatewayDirectories.Prefix + name)).FullName;
        Directory.CreateDirectory(Path.Combine(directory, "api"));
        if (withLock)
        {
            File.WriteAllText(Path.Combine(directory, "owner.lock"), "");
        }
        return directory;
    }

    [Fact]
    public async Task DirectoryOfAKilledOwner_IsRemoved_ThoseOfLiveOwnersStay()
    {
        var killed = Make("killed", withLock: true);
        var live = Make("live", withLock: true);
        var young = Make("young", withLock: false);
        // A real owner in another process, killed with SIGKILL: the kernel drops its lock, nothing else runs.
        using var owner = Process.Start(new ProcessStartInfo("python3")
        {
            ArgumentList = { "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(120)", Path.Combine(killed, "owner.lock") },
            RedirectStandardOutput = true,
        })!;
        Assert.Equal("locked", await owner.StandardOutput.ReadLineAsync().Within(what: "the owner to take its lock"));
        await using var liveOwner = new FileStream(Path.Combine(live, "owner.lock"), FileMode.Open, FileAccess.ReadWrite, FileShare.None);

        Assert.Equal(0, GatewayDirectories.RemoveAbandoned(_parent.FullName));
        Assert.True(Directory.Exists(killed), "its owner still runs");

        owner.Kill();
        await owner.WaitForExitAsync().Within(what: "the owner to die");
        Assert.Equal(1, GatewayDirectories.RemoveAbandoned(_parent.FullName));
        Assert.False(Directory.Exists(killed));
        Assert.True(Directory.Exists(live));
        Assert.True(Directory.Exists(young), "a directory without a lock is left while it may still be being set up");
    }

    [Fact]
    public async Task ANewDirectory_HoldsItsLock_UntilDisposed()
    {
        var (root, owner) = GatewayDirectories.Create();
        try
        {
            Assert.StartsWith(GatewayDirectories.Prefix, Path.GetFileName(root));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(root));
            GatewayDirectories.RemoveAbandoned(Path.GetDirectoryName(root)!);
            Assert.True(Directory.Exists(root), "its owner holds the lock");
        }
        finally
        {
            await owner.DisposeAsync();
        }
        GatewayDirectories.RemoveAbandoned(Path.GetDirectoryName(root)!);
        Assert.False(Directory.Exists(root), "once its owner let go, the directory is abandoned");
    }
}
