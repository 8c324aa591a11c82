using Affinetes.Testing;
using Affinetes.ValidatorClient.Miners;

namespace Affinetes.ValidatorClient.Tests.Miners;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ImageReferenceTests
{
    [Theory]
    [InlineData("ubuntu")]
    [InlineData("ubuntu:24.04")]
    [InlineData("library/ubuntu:latest")]
    [InlineData("ghcr.io/miner-5/affine:v5")]
    [InlineData("localhost/miner:dev")]
    [InlineData("localhost:5000/a/b/c:TAG_1.x-y")]
    [InlineData("127.0.0.1:5000/affinetes-test/no-such-miner:1a2b3c4d")]
    [InlineData("registry.example.com/org/a__b.c-d---e:v1@sha256:94349ec30cdd2a902c4b533036bf417f2b76e3a3e0cf83dbdab9fd535d566099")]
    [InlineData("org/miner@sha256:94349ec30cdd2a902c4b533036bf417f2b76e3a3e0cf83dbdab9fd535d566099")]
    [InlineData("Registry.Example.COM/org/miner")]
    public void Check_ValidReferences_AreAccepted(string reference) => Assert.Null(ImageReference.Check(reference));

    [Theory]
    [InlineData("", "it is empty")]
    [InlineData("Hello World!", "spaces or control characters")]
    [InlineData("ghcr.io/miner/affine:v1\n", "spaces or control characters")]
    [InlineData("Registry/Miner:v1", "the path component 'Registry' has capital letters")]
    [InlineData("org/-miner", "must be lowercase letters and digits joined by")]
    [InlineData("org//miner", "empty path component")]
    [InlineData("org/miner:", "the tag '' must be")]
    [InlineData("org/miner:.hidden", "the tag '.hidden' must be")]
    [InlineData("org/miner@sha256:abc", "the digest after '@' must be sha256:")]
    [InlineData("org/miner@md5:94349ec30cdd2a902c4b533036bf417f", "the digest after '@' must be sha256:")]
    [InlineData("host.io:99999/miner", "registry port in 'host.io:99999' is not 1 to 65535")]
    [InlineData("bad_host.io/miner", "registry host 'bad_host.io' is not a host name")]
    [InlineData(":v1", "it has no name")]
    public void Check_InvalidReferences_SayWhy(string reference, string why)
    {
        var problem = ImageReference.Check(reference);
        Assert.NotNull(problem);
        Assert.StartsWith($"'{reference.Replace("\n", "\\u000a", StringComparison.Ordinal)}' is not a valid image reference: ", problem);
        Assert.Contains(why, problem);
    }

    [Fact]
    public void Check_TooLong_SaysTheLimits()
    {
        Assert.Contains("more than 255", ImageReference.Check("org/" + new string('a', 260))!);
        Assert.Contains("the tag", ImageReference.Check("org/miner:" + new string('a', 129))!);
        Assert.Null(ImageReference.Check("org/miner:" + new string('a', 128)));
        // A stranger's long text is shown cut.
        Assert.Contains("...' is not a valid image reference", ImageReference.Check(new string('A', 300))!);
    }

    [Theory]
    [InlineData("org/miner@sha256:94349ec30cdd2a902c4b533036bf417f2b76e3a3e0cf83dbdab9fd535d566099", "org/miner@sha256:94349ec30cdd...")]
    [InlineData("image a@sha256:94349ec30cdd2a902c4b533036bf417f2b76e3a3e0cf83dbdab9fd535d566099 failed: manifest for a@sha256:94349ec30cdd2a902c4b533036bf417f2b76e3a3e0cf83dbdab9fd535d566099 not found",
        "image a@sha256:94349ec30cdd... failed: manifest for a@sha256:94349ec30cdd... not found")]
    [InlineData("org/miner:v1", "org/miner:v1")]
    [InlineData("sha256:94349ec30cdd", "sha256:94349ec30cdd")] // already short
    [InlineData("sha256:94349ec30cdd2a902c4b533036bf417f2b76e3a3e0cf83dbdab9fd535d5660990", "sha256:94349ec30cdd2a902c4b533036bf417f2b76e3a3e0cf83dbdab9fd535d5660990")] // 65 digits: not a digest
    public void ShortenDigests_CutsEveryFullDigest_LeavesTheRest(string text, string shown) => Assert.Equal(shown, ImageReference.ShortenDigests(text));
}
