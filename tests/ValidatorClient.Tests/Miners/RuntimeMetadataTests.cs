using System.Globalization;
using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Miners.Substrate;

namespace Affinetes.ValidatorClient.Tests.Miners;

/// <summary>
/// The metadata a real subtensor node answered (V14 and V15) and the storage values it answered, decoded here and
/// compared with what @polkadot/types reads in them (Data/recorded-values.json).
/// </summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class RuntimeMetadataTests
{
    public static TheoryData<string> Versions() => ["V14", "V15"];

    private static RuntimeMetadata Parse(string version) =>
        RuntimeMetadata.Parse(SubtensorData.Bytes(version == "V14" ? SubtensorData.MetadataV14Hex : SubtensorData.MetadataV15Hex));

    [Theory]
    [MemberData(nameof(Versions))]
    public void Parse_RecordedMetadata_HasTheSubtensorItemsWithTheirHashers(string version)
    {
        var metadata = Parse(version);
        Assert.Equal(version == "V14" ? 14 : 15, metadata.Version);
        // As @polkadot/types counts them in the same files.
        Assert.Equal(version == "V14" ? 552 : 712, metadata.Types.Count);
        Assert.Equal(26, metadata.Pallets.Count);
        var commitments = metadata.Storage("Commitments", "CommitmentOf")!;
        Assert.True(commitments.IsOptional);
        Assert.Equal([StorageHasher.Identity, StorageHasher.Twox64Concat], commitments.Hashers);
        Assert.Equal("pallet_commitments::types::Registration", metadata.Types[commitments.ValueType].PathText);
        var keys = metadata.Storage("SubtensorModule", "Keys")!;
        Assert.False(keys.IsOptional);
        Assert.Equal([StorageHasher.Identity, StorageHasher.Identity], keys.Hashers);
        Assert.Equal("sp_core::crypto::AccountId32", metadata.Types[keys.ValueType].PathText);
        Assert.Equal([StorageHasher.Identity, StorageHasher.Blake2_128Concat], metadata.Storage("SubtensorModule", "Uids")!.Hashers);
        Assert.Equal([StorageHasher.Blake2_128Concat], metadata.Storage("System", "Account")!.Hashers);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Parse_RecordedMetadata_DataEnumHasRawVariantsByLength(string version)
    {
        var metadata = Parse(version);
        var data = metadata.Types.Count > 0 ? metadata.Types[323] : null;
        var variants = Assert.IsType<VariantDef>(data!.Def).Variants;
        Assert.Equal("pallet_commitments::types::Data", data.PathText);
        for (var n = 0; n <= 128; n++)
        {
            var raw = variants.Single(v => v.Name == $"Raw{n}");
            Assert.Equal(n + 1, raw.Index);
            Assert.Equal((uint)n, Assert.IsType<ArrayDef>(metadata.Types[raw.Fields[0].Type].Def).Length);
        }
        Assert.Contains(variants, v => v.Name == "BigRaw");
        Assert.Contains(variants, v => v.Name == "ResetBondsFlag" && v.Fields.Count == 0);
    }

    [Fact]
    public void SystemVersion_Constant_DecodesToTheSpecVersionPolkadotReads()
    {
        var version = SubtensorData.V14.Constant("System", "Version")!;
        var value = Assert.IsType<ScaleComposite>(new ScaleDecoder(SubtensorData.V14.Types).Decode(version.Type, version.Value));
        Assert.Equal(SubtensorData.Scenario.GetProperty("specVersion").GetInt64(), (long)value.Field("spec_version")!.AsInteger()!.Value);
        // spec_name is a RuntimeString, a newtype around str.
        var name = value.Field("spec_name");
        while (name is ScaleComposite { Fields.Count: 1 } newtype)
        {
            name = newtype.Fields[0].Value;
        }
        Assert.Equal("node-subtensor", Assert.IsType<ScaleText>(name).Value);
    }

    [Fact]
    public void Decode_EveryRecordedStorageValue_ReadsWhatPolkadotReads()
    {
        var metadata = SubtensorData.V14;
        var decoder = new ScaleDecoder(metadata.Types);
        var byPrefix = metadata.Pallets.SelectMany(p => p.Storage)
            .ToDictionary(s => "0x" + Convert.ToHexStringLower(StorageKeys.Prefix(s)));
        var values = SubtensorData.RecordedValues.EnumerateArray().ToList();
        Assert.True(values.Count >= 100, $"only {values.Count} recorded values");
        foreach (var recorded in values)
        {
            var key = recorded.GetProperty("key").GetString()!;
            var entry = byPrefix[key[..66]];
            Assert.Equal(recorded.GetProperty("item").GetString(), Camel(entry.Pallet) + "." + Camel(entry.Name));
            var value = decoder.Decode(entry.ValueType, SubtensorData.Bytes(recorded.GetProperty("value").GetString()!));
            Assert.Equal([.. recorded.GetProperty("leaves").EnumerateArray().Select(l => l.GetString()!)], Leaves(value).ToList());
        }
        // The kinds of value among them: plain integers, a struct of u128 balances, vectors of tuples, a long Vec<u64>.
        Assert.Contains(values, v => v.GetProperty("item").GetString() == "system.account");
        Assert.Contains(values, v => v.GetProperty("item").GetString() == "subtensorModule.weights");
        Assert.Contains(values, v => v.GetProperty("item").GetString() == "subtensorModule.lastUpdate");
    }

    [Fact]
    public void StorageKeys_OfRecordedQueries_AreTheKeysTheSdkAsked()
    {
        var metadata = SubtensorData.V14;
        var encoder = new ScaleEncoder(metadata.Types);
        var checkedKeys = 0;
        foreach (var seed in SubtensorData.Recordings.EnumerateObject())
        {
            if (!seed.Value.TryGetProperty("state_getStorageAt", out var reads))
            {
                continue;
            }
            foreach (var read in reads.EnumerateObject())
            {
                var key = JsonDocument.Parse(read.Name).RootElement[0].GetString()!;
                var entry = metadata.Pallets.SelectMany(p => p.Storage).Single(s => key.StartsWith("0x" + Convert.ToHexStringLower(StorageKeys.Prefix(s)), StringComparison.Ordinal));
                var rest = SubtensorData.Bytes("0x" + key[66..]);
                // Rebuild the key from its parts: a u16 netuid (Identity) and, where there is one, an account whose
                // hasher (Blake2_128Concat, Twox64Concat) put it after its hash.
                ScaleValue[] parts = entry.Hashers.Count switch
                {
                    1 when entry.Hashers[0] == StorageHasher.Identity => [new ScaleInteger(BitConverter.ToUInt16(rest))],
                    1 => [new ScaleBytes(rest[^32..])],
                    2 => [new ScaleInteger(BitConverter.ToUInt16(rest)), new ScaleBytes(rest[^32..])],
                    _ => [],
                };
                Assert.Equal(key, StorageKeys.Of(entry, encoder, metadata.Types, parts));
                checkedKeys++;
            }
        }
        Assert.True(checkedKeys >= 15, $"only {checkedKeys} keys checked");
    }

    [Theory]
    [InlineData("00000000", "does not start with the 'meta' magic")]
    [InlineData("6d657461", "does not start with the 'meta' magic")]
    [InlineData("6d6574610d", "metadata version 13 is not supported (14 and 15 are)")]
    [InlineData("6d6574610e08", "a vector of 2 items at offset 6 is longer than the 0 bytes left")]
    public void Parse_NotMetadata_SaysWhy(string hex, string expected)
    {
        var e = Assert.Throws<ScaleFormatException>(() => RuntimeMetadata.Parse(Convert.FromHexString(hex)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Parse_TruncatedRealMetadata_IsAFormatErrorNotACrash()
    {
        var bytes = SubtensorData.Bytes(SubtensorData.MetadataV14Hex);
        foreach (var length in new[] { 6, 100, 5000, bytes.Length / 2, bytes.Length - 3000 })
        {
            Assert.Throws<ScaleFormatException>(() => RuntimeMetadata.Parse(bytes.AsMemory(0, length)));
        }
    }

    private static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];

    /// <summary>The leaves of a value, as generate.mjs writes polkadot's: integers in decimal, booleans, bytes as 0x-hex, enum names before their fields.</summary>
    private static IEnumerable<string> Leaves(ScaleValue value) => value switch
    {
        ScaleComposite c => c.Fields.SelectMany(f => Leaves(f.Value)),
        ScaleVariant v => [v.Name, .. v.Fields.SelectMany(f => Leaves(f.Value))],
        ScaleList l => l.Items.SelectMany(Leaves),
        ScaleBytes b => [b.Hex],
        ScaleInteger i => [i.Value.ToString(CultureInfo.InvariantCulture)],
        ScaleBool b => [b.Value ? "true" : "false"],
        ScaleText t => [t.Value],
        _ => throw new ArgumentOutOfRangeException(nameof(value), value.GetType().Name),
    };
}
