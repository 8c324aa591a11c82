namespace Affinetes.ValidatorClient.Miners;

/// <summary>The block a subtensor read was made at: every value of a <see cref="MinerSet"/> comes from this one state.</summary>
/// <param name="Number">The block number.</param>
/// <param name="Hash">The block hash, 0x-hex.</param>
public sealed record ChainBlock(long Number, string Hash);

/// <summary>
/// One miner: its uid, and either the image it committed (<see cref="Image"/>) or why it has no usable one
/// (<see cref="Problem"/>); exactly one of the two is set.
/// </summary>
/// <param name="Uid">The miner's uid on the subnet (decimal), or the key of the miners file.</param>
/// <param name="Hotkey">The miner's hotkey as an SS58 address (prefix 42), when read from the chain.</param>
/// <param name="Image">The image reference to evaluate; null when <see cref="Problem"/> says why there is none.</param>
/// <param name="Problem">Why the miner has no usable image ("no commitment", "commitment is not UTF-8" ...); null when <see cref="Image"/> is set.</param>
/// <param name="CommitBlock">The block the commitment was made at, when read from the chain.</param>
public sealed record MinerEntry(string Uid, string? Hotkey, string? Image, string? Problem, long? CommitBlock)
{
    /// <summary>Whether the miner has an image to evaluate.</summary>
    public bool HasImage => Image is not null;
}

/// <summary>The miners a source gave, in uid order for the chain, in file order for a file.</summary>
/// <param name="Block">The block every value was read at; null for a file.</param>
/// <param name="Miners">Every miner, with an image or a problem.</param>
public sealed record MinerSet(ChainBlock? Block, IReadOnlyList<MinerEntry> Miners);
