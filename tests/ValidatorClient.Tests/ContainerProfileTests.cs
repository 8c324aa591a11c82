using Affinetes.Testing;
using Affinetes.ValidatorClient.Backends.Docker;
using Affinetes.ValidatorClient.Environments;
using Docker.DotNet.Models;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>The hardened profile as a <see cref="HostConfig"/>, its user decision, labels and hints, and the options' validation.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ContainerProfileTests
{
    [Theory]
    [InlineData(null, "65534:65534")]
    [InlineData("", "65534:65534")]
    [InlineData("root", "65534:65534")]
    [InlineData("0:0", "65534:65534")]
    [InlineData("app", null)]
    [InlineData("1000:1000", null)]
    public void User_RootImagesRunAsNobody_OthersKeepTheirs(string? imageUser, string? expected)
    {
        var profile = ContainerProfile.For(new ContainerHardening(), null, null, imageUser);
        Assert.Equal(expected, profile.User);
        Assert.Equal("none", profile.RelaxationsLabel);
    }

    [Fact]
    public void Default_HostConfig_IsHardened()
    {
        var profile = ContainerProfile.For(new ContainerHardening(), null, null, "");
        var config = new HostConfig();
        profile.Apply(config);
        Assert.Equal(["ALL"], config.CapDrop);
        Assert.Empty(config.CapAdd);
        Assert.Equal(["no-new-privileges:true"], config.SecurityOpt);
        Assert.Equal(512, config.PidsLimit);
        Assert.Equal(4L << 30, config.Memory);
        Assert.Equal(4L << 30, config.MemorySwap);
        Assert.Equal(2_000_000_000, config.NanoCPUs);
        Assert.True(config.ReadonlyRootfs);
        Assert.Equal("rw,nosuid,nodev,size=268435456,mode=1777", config.Tmpfs!["/tmp"]);
        var nofile = Assert.Single(config.Ulimits);
        Assert.Equal(("nofile", 8192L, 8192L), (nofile.Name, nofile.Soft, nofile.Hard));
        Assert.Equal("memory=4Gi cpus=2 pids=512 nofile=8192 tmp=256Mi log=3x10Mi", profile.LimitsLabel);
        Assert.Equal(["HOME=/tmp"], profile.Environment(new Dictionary<string, string>()));
        Assert.Empty(profile.Environment(new Dictionary<string, string> { ["HOME"] = "/home/me" }));
    }

    [Fact]
    public void KeepImageUser_OfANonRootImage_IsNoRelaxation()
    {
        Assert.Equal("none", ContainerProfile.For(new ContainerHardening { KeepImageUser = true }, null, null, "app").RelaxationsLabel);
        Assert.Equal("image-user=root", ContainerProfile.For(new ContainerHardening { KeepImageUser = true }, null, null, "root").RelaxationsLabel);
    }

    [Fact]
    public void CapAdd_ForARootImageRunAsNobody_IsRefusedNamingKeepImageUser()
    {
        var e = Assert.Throws<EnvironmentOptionsException>(() => ContainerProfile.For(new ContainerHardening { AddCapabilities = ["NET_RAW"] }, null, null, "root"));
        Assert.Contains("--keep-image-user", e.Message);
        Assert.Equal("image-user=root,cap-add=NET_RAW",
            ContainerProfile.For(new ContainerHardening { AddCapabilities = ["cap_net_raw"], KeepImageUser = true }, null, null, "root").RelaxationsLabel);
    }

    [Fact]
    public void Hint_NamesTheRelaxationTheFailurePointsAt()
    {
        var profile = ContainerProfile.For(new ContainerHardening(), null, null, "");
        Assert.Contains("--writable-path", profile.Hint("OSError: [Errno 30] Read-only file system: '/app/cache'"));
        Assert.Contains("--keep-image-user", profile.Hint("PermissionError: [Errno 13] Permission denied: '/app/env.py'"));
        Assert.Contains("--cap-add", profile.Hint("chown: Operation not permitted"));
        Assert.Contains("--tmp-size", profile.Hint("No space left on device"));
        Assert.Null(profile.Hint("RuntimeError: no API key configured"));
    }

    [Theory]
    [InlineData(8L, null, null, null, "pids limit is 8")]
    [InlineData(null, 10L, null, null, "open files limit is 10")]
    [InlineData(null, null, "1k", null, "below 1Mi")]
    [InlineData(null, null, "lots", null, "tmp size")]
    [InlineData(null, null, null, "relative/dir", "must be an absolute directory")]
    [InlineData(null, null, null, "/", "must be an absolute directory")]
    public void BadSettings_AreRefusedSayingHowToFix(long? pids, long? nofile, string? tmp, string? path, string expected)
    {
        var hardening = new ContainerHardening
        {
            PidsLimit = pids ?? ContainerHardening.DefaultPidsLimit,
            OpenFilesLimit = nofile ?? ContainerHardening.DefaultOpenFilesLimit,
            TmpSize = tmp ?? ContainerHardening.DefaultTmpSize,
            WritablePaths = path is null ? [] : [path],
        };
        var e = Assert.Throws<EnvironmentOptionsException>(() => new EnvironmentOptions { Image = "x:1", Docker = new DockerOptions { Hardening = hardening } }.Validate());
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void BadCapability_IsRefused() =>
        Assert.Contains("not a capability name", Assert.Throws<EnvironmentOptionsException>(() =>
            new EnvironmentOptions { Image = "x:1", Docker = new DockerOptions { Hardening = new ContainerHardening { AddCapabilities = ["net raw"] } } }.Validate()).Message);

    [Fact]
    public async Task Caps_BadValues_AreRefusedBeforeAnyEngineIsAsked()
    {
        var client = AffinetesClient.Create(options: new AffinetesClientOptions { MaxContainerCreationsPerSecond = 0 });
        var e = await Assert.ThrowsAsync<EnvironmentOptionsException>(() => client.LoadEnvAsync(new EnvironmentOptions { Image = "x:1" }));
        Assert.Contains("at least 0.01", e.Message);
    }
}
