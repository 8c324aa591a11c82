using Affinetes.Testing;
using Affinetes.ValidatorClient.Miners;
using Affinetes.ValidatorClient.Miners.Substrate;

namespace Affinetes.ValidatorClient.Tests.Miners;

/// <summary>Substrate's hashers and SS58 against published vectors and keys a real node answered.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class HashingTests
{
    private const string Alice = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";

    [Theory]
    [InlineData("System", "26aa394eea5630e07c48ae0c9558cef7")]
    [InlineData("Account", "b99d880ec681799c0cf30e8886371da9")]
    [InlineData("Balances", "c2261276cc9d1f8598ea4b6a74b15c2f")]
    [InlineData("TotalIssuance", "57c875e4cff74148e4628f264b974c80")]
    public void Twox128_OfNames_IsTheKnownPrefix(string name, string expected) =>
        Assert.Equal(expected, Convert.ToHexStringLower(Hashing.Twox128(name)));

    [Fact]
    public void Twox256_IsFourSeededHashes()
    {
        var hash = Hashing.Twox(System.Text.Encoding.UTF8.GetBytes("System"), 256);
        Assert.Equal("26aa394eea5630e07c48ae0c9558cef7", Convert.ToHexStringLower(hash[..16]));
        Assert.Equal(32, hash.Length);
    }

    [Fact]
    public void Blake2_128Concat_OfAlice_IsHerSystemAccountKeySuffix()
    {
        // System.Account(Alice), the best-known storage key of any Substrate chain.
        var key = Hashing.Hash(StorageHasher.Blake2_128Concat, Convert.FromHexString(Alice));
        Assert.Equal("de1e86a9a8c739864cf3cc5ec2bea59f" + Alice, Convert.ToHexStringLower(key));
    }

    [Fact]
    public void Blake2_256_OfEmpty_IsTheRfcVector() =>
        Assert.Equal("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8", Convert.ToHexStringLower(Hashing.Hash(StorageHasher.Blake2_256, [])));

    [Fact]
    public void Blake2_512_OfAbc_IsTheRfc7693Vector() =>
        Assert.Equal("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
            Convert.ToHexStringLower(Hashing.Blake2("abc"u8, 512)));

    [Fact]
    public void Twox64Concat_OfARecordedHotkey_IsTheKeyTheNodeWasAsked()
    {
        // get_commitment seed: Commitments.CommitmentOf(23, hotkey) as the SDK asked the node for it.
        const string recorded = "0xca407206ec1ab726b2636c4b145ac287419a60ae8b01e6dcaebd7317e43c69bf1700915e602fd97dd63a4af7598952f87683204a2a0c2266f941a74899bd69b0ce56e42a82820f689446";
        var hotkey = Convert.FromHexString(recorded[^64..]);
        Assert.Equal("915e602fd97dd63a" + recorded[^64..], Convert.ToHexStringLower(Hashing.Hash(StorageHasher.Twox64Concat, hotkey)));
    }

    [Fact]
    public void Identity_IsTheEncodingItself() =>
        Assert.Equal("1700", Convert.ToHexStringLower(Hashing.Hash(StorageHasher.Identity, [0x17, 0x00])));

    [Fact]
    public void Blake2_128_And_Twox128_HashWithoutTheData()
    {
        Assert.Equal("de1e86a9a8c739864cf3cc5ec2bea59f", Convert.ToHexStringLower(Hashing.Hash(StorageHasher.Blake2_128, Convert.FromHexString(Alice))));
        Assert.Equal(16, Hashing.Hash(StorageHasher.Twox128, Convert.FromHexString(Alice)).Length);
    }

    [Fact]
    public void Ss58_OfAlice_IsHerAddress() =>
        Assert.Equal("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", Ss58.Encode(Convert.FromHexString(Alice)));
}
