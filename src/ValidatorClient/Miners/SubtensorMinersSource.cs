using System.Globalization;
using System.Text.Json;
using Affinetes.ValidatorClient.Miners.Substrate;

namespace Affinetes.ValidatorClient.Miners;

/// <summary>
/// Reads a subnet's miners from a subtensor node: it takes one block hash first and reads everything at it, so the
/// set is one consistent state. The runtime metadata at that block says where and how each item is stored
/// (<c>SubtensorModule.SubnetworkN</c>, <c>NetworksAdded</c>, <c>Keys</c>, <c>Commitments.CommitmentOf</c>); values are
/// decoded by its type registry. Storage is read in batches (<c>state_queryStorageAt</c>), so 256 uids take a handful
/// of requests; a node without that method is asked key by key (<c>state_getStorage</c>).
/// </summary>
internal sealed class SubtensorMinersSource : IMinersSource
{
    private readonly SubtensorOptions _options;
    private readonly Uri _url;
    // The metadata of the last runtime seen: a new one is fetched only when the runtime's version changes.
    private Runtime? _runtime;

    public SubtensorMinersSource(SubtensorOptions options)
    {
        _url = options.Validate();
        _options = options;
    }

    public string Describe => $"subnet {_options.NetUid} at {_url}";

    public async Task<MinerSet> ReadAsync(CancellationToken cancellationToken = default)
    {
        await using var rpc = await JsonRpcConnection.OpenAsync(_url, _options.RequestTimeout, cancellationToken);
        try
        {
            return await ReadAsync(rpc, cancellationToken);
        }
        catch (JsonRpcException e)
        {
            throw new MinersSourceException($"the subtensor node at {_url} refused {e.Method}: {e.RemoteMessage} (JSON-RPC error {e.Code})", inner: e);
        }
    }

    private async Task<MinerSet> ReadAsync(JsonRpcConnection rpc, CancellationToken cancellationToken)
    {
        var block = await PinBlockAsync(rpc, cancellationToken);
        var runtime = await RuntimeAsync(rpc, block, cancellationToken);
        var reader = new StorageReader(rpc, block.Hash, _options.KeysPerRequest);
        var netuid = new ScaleInteger(_options.NetUid);

        var size = runtime.Require("SubtensorModule", "SubnetworkN");
        var added = runtime.Metadata.Storage("SubtensorModule", "NetworksAdded");
        var keys = runtime.Require("SubtensorModule", "Keys");
        var commitments = runtime.Require("Commitments", "CommitmentOf");

        var subnet = await reader.ReadAsync([runtime.Key(size, netuid), .. added is null ? Array.Empty<string>() : [runtime.Key(added, netuid)]], cancellationToken);
        var count = runtime.Value(size, subnet[0])?.AsInteger() ?? 0;
        var exists = added is null ? count > 0 : runtime.Value(added, subnet[1]) is ScaleBool { Value: true };
        if (!exists)
        {
            throw new MinersSourceException($"subnet {_options.NetUid} does not exist on this chain (block #{block.Number})");
        }

        var uids = Enumerable.Range(0, (int)count).ToList();
        var hotkeyValues = await reader.ReadAsync([.. uids.Select(uid => runtime.Key(keys, netuid, new ScaleInteger(uid)))], cancellationToken);
        // Keys defaults to the zero account when absent; an absent entry is a uid without a hotkey, not that account.
        var hotkeys = hotkeyValues.Select(bytes => bytes is null ? null : runtime.Value(keys, bytes)).ToList();
        var withHotkey = uids.Where(uid => hotkeys[uid] is not null).ToList();
        var commitmentValues = await reader.ReadAsync([.. withHotkey.Select(uid => runtime.Key(commitments, netuid, hotkeys[uid]!))], cancellationToken);
        var commitmentOf = withHotkey.Select((uid, i) => (uid, i)).ToDictionary(x => x.uid, x => commitmentValues[x.i]);

        var miners = new List<MinerEntry>(uids.Count);
        foreach (var uid in uids)
        {
            var id = uid.ToString(CultureInfo.InvariantCulture);
            if (hotkeys[uid]?.AsBytes() is not { Length: 32 } account)
            {
                miners.Add(new MinerEntry(id, null, null, "no hotkey is registered at this uid", null));
                continue;
            }
            var hotkey = Ss58.Encode(account);
            if (commitmentOf[uid] is not { } encoded)
            {
                miners.Add(new MinerEntry(id, hotkey, null, "no commitment", null));
                continue;
            }
            ScaleValue registration;
            try
            {
                registration = runtime.Decoder.Decode(commitments.ValueType, encoded);
            }
            catch (ScaleFormatException e)
            {
                miners.Add(new MinerEntry(id, hotkey, null, $"the commitment cannot be decoded: {e.Message}", null));
                continue;
            }
            var (image, problem, commitBlock) = Commitment.Read(registration);
            miners.Add(new MinerEntry(id, hotkey, image, problem, commitBlock));
        }
        return new MinerSet(block, miners);
    }

    /// <summary>The block every read is made at: the one asked for, else the latest finalized.</summary>
    private async Task<ChainBlock> PinBlockAsync(JsonRpcConnection rpc, CancellationToken cancellationToken)
    {
        if (_options.BlockNumber is { } number)
        {
            var hash = await rpc.CallAsync("chain_getBlockHash", [number], cancellationToken);
            return hash.ValueKind == JsonValueKind.String
                ? new ChainBlock(number, hash.GetString()!)
                : throw new MinersSourceException($"block #{number} is not known to the subtensor node at {_url} (not produced yet, or pruned)");
        }
        var at = _options.BlockHash ?? Text(rpc, "chain_getFinalizedHead", await rpc.CallAsync("chain_getFinalizedHead", [], cancellationToken));
        var header = await rpc.CallAsync("chain_getHeader", [at], cancellationToken);
        if (header.ValueKind == JsonValueKind.Null)
        {
            throw new MinersSourceException($"block {at} is not known to the subtensor node at {_url}");
        }
        try
        {
            return new ChainBlock(JsonRpcConnection.ParseNumber(header.GetProperty("number")), at.ToLowerInvariant());
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new MinersSourceException($"the subtensor node at {_url} answered chain_getHeader without a block number");
        }
    }

    private async Task<Runtime> RuntimeAsync(JsonRpcConnection rpc, ChainBlock block, CancellationToken cancellationToken)
    {
        var version = await rpc.CallAsync("state_getRuntimeVersion", [block.Hash], cancellationToken);
        var (name, spec) = version.ValueKind == JsonValueKind.Object
            && version.TryGetProperty("specName", out var n) && version.TryGetProperty("specVersion", out var s) && s.TryGetInt64(out var v)
            ? (n.ToString(), v)
            : throw new MinersSourceException($"the subtensor node at {_url} answered state_getRuntimeVersion without a specName and specVersion");
        if (_runtime is { } known && known.SpecName == name && known.SpecVersion == spec)
        {
            return known;
        }
        var hex = Text(rpc, "state_getMetadata", await rpc.CallAsync("state_getMetadata", [block.Hash], cancellationToken));
        RuntimeMetadata metadata;
        try
        {
            metadata = RuntimeMetadata.Parse(Hex(rpc, "state_getMetadata", hex));
        }
        catch (ScaleFormatException e)
        {
            throw new MinersSourceException($"the runtime metadata of the subtensor node at {_url} (spec_version {spec}) cannot be read: {e.Message}");
        }
        return _runtime = new Runtime(name, spec, metadata);
    }

    private string Text(JsonRpcConnection rpc, string method, JsonElement result) =>
        result.ValueKind == JsonValueKind.String ? result.GetString()! : throw new MinersSourceException($"the subtensor node at {rpc.Url} answered {method} with {result.ValueKind}, not a string");

    internal static byte[] Hex(JsonRpcConnection rpc, string method, string hex)
    {
        try
        {
            return hex.StartsWith("0x", StringComparison.Ordinal) ? Convert.FromHexString(hex.AsSpan(2)) : throw new FormatException();
        }
        catch (FormatException)
        {
            throw new MinersSourceException($"the subtensor node at {rpc.Url} answered {method} with '{ImageReference.Quote(hex)}', not 0x-hex");
        }
    }

    /// <summary>A runtime's metadata with its decoder and encoder, and what it says about one storage item.</summary>
    private sealed class Runtime(string specName, long specVersion, RuntimeMetadata metadata)
    {
        public string SpecName => specName;
        public long SpecVersion => specVersion;
        public RuntimeMetadata Metadata => metadata;
        public ScaleDecoder Decoder { get; } = new(metadata.Types);
        private ScaleEncoder Encoder { get; } = new(metadata.Types);

        public StorageEntry Require(string pallet, string item) => metadata.Storage(pallet, item)
            ?? throw new MinersSourceException($"the node's runtime ({specName}, spec_version {specVersion}) has no {pallet}.{item} storage: is this a Bittensor subtensor node?");

        public string Key(StorageEntry entry, params ScaleValue[] keys)
        {
            try
            {
                return StorageKeys.Of(entry, Encoder, metadata.Types, keys);
            }
            catch (ScaleFormatException e)
            {
                throw Unlike(entry, e);
            }
        }

        /// <summary>The value of an entry; an absent one is null when the item is optional, else the item's default.</summary>
        public ScaleValue? Value(StorageEntry entry, byte[]? bytes)
        {
            if (bytes is null && entry.IsOptional)
            {
                return null;
            }
            try
            {
                return Decoder.Decode(entry.ValueType, bytes ?? entry.Default);
            }
            catch (ScaleFormatException e)
            {
                throw Unlike(entry, e);
            }
        }

        private MinersSourceException Unlike(StorageEntry entry, ScaleFormatException e) =>
            new($"the node's runtime ({specName}, spec_version {specVersion}) stores {entry.FullName} unlike a subtensor node: {e.Message}");
    }
}
