namespace Affinetes.ValidatorClient.Miners;

/// <summary>Which subtensor node to ask, about which subnet, at which block.</summary>
public sealed record SubtensorOptions
{
    /// <summary>The node's JSON-RPC endpoint: <c>ws://</c> or <c>wss://</c> (a websocket) or <c>http://</c> or <c>https://</c> (POST), e.g. <c>ws://127.0.0.1:9944</c>.</summary>
    public required string Url { get; init; }

    /// <summary>The subnet whose miners are read.</summary>
    public required ushort NetUid { get; init; }

    /// <summary>Read at this block number instead of the latest finalized block.</summary>
    public long? BlockNumber { get; init; }

    /// <summary>Read at this block hash (0x-hex) instead of the latest finalized block.</summary>
    public string? BlockHash { get; init; }

    /// <summary>How long one JSON-RPC request (and the connection) may take before the read fails.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Storage keys asked in one <c>state_queryStorageAt</c> request.</summary>
    public int KeysPerRequest { get; init; } = 256;

    internal Uri Validate()
    {
        var problems = new List<string>();
        Uri? uri = null;
        if (string.IsNullOrWhiteSpace(Url))
        {
            problems.Add("the subtensor URL is empty; give e.g. ws://127.0.0.1:9944");
        }
        else if (!Uri.TryCreate(Url, UriKind.Absolute, out uri) || uri.Scheme is not ("ws" or "wss" or "http" or "https"))
        {
            problems.Add($"the subtensor URL '{Url}' is not a ws://, wss://, http:// or https:// URL; give e.g. ws://127.0.0.1:9944 or wss://entrypoint-finney.opentensor.ai:443");
        }
        if (BlockNumber is not null && BlockHash is not null)
        {
            problems.Add("give a block number or a block hash, not both");
        }
        if (BlockNumber is < 0 or > uint.MaxValue)
        {
            problems.Add($"block number {BlockNumber} is not a block number (0 to {uint.MaxValue})");
        }
        if (BlockHash is not null && !IsHash(BlockHash))
        {
            problems.Add($"block hash '{BlockHash}' is not 0x and 64 hex digits");
        }
        if (RequestTimeout <= TimeSpan.Zero)
        {
            problems.Add($"the request timeout is {RequestTimeout.TotalSeconds:0.###} s; give more than 0");
        }
        if (KeysPerRequest is < 1 or > 4096)
        {
            problems.Add($"{KeysPerRequest} keys per request; give 1 to 4096");
        }
        return problems.Count == 0 ? uri! : throw new MinersSourceException(string.Join("; ", problems));
    }

    private static bool IsHash(string text) =>
        text.Length == 66 && text.StartsWith("0x", StringComparison.Ordinal) && text.AsSpan(2).ContainsAnyExcept("0123456789abcdefABCDEF") is false;
}
