namespace Affinetes.Testing.Subtensor;

/// <summary>One block of a <see cref="SubtensorRpcServer"/>'s chain: its header fields, runtime and storage.</summary>
public sealed class SubtensorBlock
{
    public required string Hash { get; init; }

    public required long Number { get; init; }

    public string ParentHash { get; init; } = "0x" + new string('0', 64);

    /// <summary>The runtime metadata served by <c>state_getMetadata</c> at this block, 0x-hex.</summary>
    public required string MetadataHex { get; set; }

    public string SpecName { get; init; } = "node-subtensor";

    public long SpecVersion { get; set; } = 343;

    /// <summary>Storage: 0x-hex key (any case) to 0x-hex SCALE value.</summary>
    public Dictionary<string, string> Storage { get; init; } = new(StringComparer.OrdinalIgnoreCase);
}
