using System.IO.Compression;
using System.Text.Json;
using Affinetes.Testing.Subtensor;
using Affinetes.ValidatorClient.Miners.Substrate;

namespace Affinetes.ValidatorClient.Tests.Miners;

/// <summary>The test data of Miners/Data (see its README): recorded subtensor metadata and storage, and the generated scenario.</summary>
internal static class SubtensorData
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Miners", "Data");

    public static string Text(string name) => name.EndsWith(".gz", StringComparison.Ordinal)
        ? new StreamReader(new GZipStream(File.OpenRead(Path.Combine(Directory, name)), CompressionMode.Decompress)).ReadToEnd().Trim()
        : File.ReadAllText(Path.Combine(Directory, name)).Trim();

    /// <summary>The recorded <c>state_getMetadata</c> answer (V14), 0x-hex.</summary>
    public static string MetadataV14Hex { get; } = Text("integration_websocket_metadata.txt.gz");

    /// <summary>The recorded V15 metadata, 0x-hex, out of the <c>Option&lt;OpaqueMetadata&gt;</c> the runtime call answered.</summary>
    public static string MetadataV15Hex { get; } = Unwrap(Text("integration_websocket_at_version.txt.gz"));

    public static string MetadataWithoutCommitmentsHex { get; } = Text("metadata-without-commitments.txt.gz");

    public static byte[] Bytes(string hex) => Convert.FromHexString(hex.AsSpan(2));

    public static RuntimeMetadata V14 { get; } = RuntimeMetadata.Parse(Bytes(MetadataV14Hex));

    public static JsonElement Scenario { get; } = JsonDocument.Parse(Text("scenario.json")).RootElement;

    /// <summary>Subnet 9 with 5 uids at one block, committing the local test images the scoring tests tag (scoring-scenario.json).</summary>
    public static JsonElement ScoringScenario { get; } = JsonDocument.Parse(Text("scoring-scenario.json")).RootElement;

    public static JsonElement RecordedValues { get; } = JsonDocument.Parse(Text("recorded-values.json")).RootElement;

    public static JsonElement Recordings { get; } = JsonDocument.Parse(Text("integration_websocket_data.json")).RootElement;

    /// <summary>The scenario's blocks A and B, served with <paramref name="metadataHex"/> (default the recorded V14).</summary>
    public static List<SubtensorBlock> ScenarioBlocks(string? metadataHex = null) => Blocks(Scenario, metadataHex);

    /// <summary>The scoring scenario's one block S.</summary>
    public static List<SubtensorBlock> ScoringBlocks() => Blocks(ScoringScenario, null);

    /// <summary>What the scoring scenario says each uid committed.</summary>
    public static List<JsonElement> ScoringMiners() =>
        [.. ScoringScenario.GetProperty("blocks")[0].GetProperty("miners").EnumerateArray()];

    private static List<SubtensorBlock> Blocks(JsonElement scenario, string? metadataHex) =>
    [
        .. scenario.GetProperty("blocks").EnumerateArray().Select(b => new SubtensorBlock
        {
            Hash = b.GetProperty("hash").GetString()!,
            Number = b.GetProperty("number").GetInt64(),
            ParentHash = b.GetProperty("parentHash").GetString()!,
            MetadataHex = metadataHex ?? MetadataV14Hex,
            SpecVersion = scenario.GetProperty("specVersion").GetInt64(),
            Storage = b.GetProperty("storage").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.OrdinalIgnoreCase),
        }),
    ];

    /// <summary>What the scenario says each uid committed at block <paramref name="name"/> (A or B).</summary>
    public static List<JsonElement> ScenarioMiners(string name) =>
        [.. Scenario.GetProperty("blocks").EnumerateArray().Single(b => b.GetProperty("name").GetString() == name).GetProperty("miners").EnumerateArray()];

    private static string Unwrap(string optionHex)
    {
        var reader = new ScaleReader(Bytes(optionHex));
        Assert.Equal(1, reader.ReadByte()); // Some
        var length = reader.ReadLength();
        Assert.Equal(length, reader.Remaining);
        return "0x" + Convert.ToHexStringLower(reader.Take(length));
    }
}
