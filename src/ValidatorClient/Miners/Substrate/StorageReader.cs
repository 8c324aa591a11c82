using System.Text.Json;
using System.Text.Json.Nodes;

namespace Affinetes.ValidatorClient.Miners.Substrate;

/// <summary>
/// Reads storage values at one block: <c>state_queryStorageAt</c> with up to <paramref name="keysPerRequest"/> keys a
/// request, or, when the node lacks that method, <c>state_getStorage</c> key by key.
/// </summary>
internal sealed class StorageReader(JsonRpcConnection rpc, string blockHash, int keysPerRequest)
{
    private bool _batchUnsupported;

    /// <summary>The values of <paramref name="keys"/> (0x-hex), in order; null where the key holds nothing.</summary>
    public async Task<IReadOnlyList<byte[]?>> ReadAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, byte[]?>(StringComparer.OrdinalIgnoreCase);
        foreach (var chunk in keys.Chunk(keysPerRequest))
        {
            if (!_batchUnsupported)
            {
                try
                {
                    var sets = await rpc.CallAsync("state_queryStorageAt", [new JsonArray([.. chunk.Select(k => JsonValue.Create(k))]), blockHash], cancellationToken);
                    Collect(sets, values);
                    continue;
                }
                catch (JsonRpcException e) when (e.IsMethodNotFound)
                {
                    _batchUnsupported = true;
                }
            }
            foreach (var key in chunk)
            {
                var value = await rpc.CallAsync("state_getStorage", [key, blockHash], cancellationToken);
                values[key] = value.ValueKind == JsonValueKind.Null ? null : Bytes("state_getStorage", value);
            }
        }
        return [.. keys.Select(k => values.GetValueOrDefault(k))];
    }

    /// <summary><c>[{ block, changes: [[key, value or null], ...] }]</c>; keys the node leaves out hold nothing.</summary>
    private void Collect(JsonElement sets, Dictionary<string, byte[]?> values)
    {
        if (sets.ValueKind != JsonValueKind.Array)
        {
            throw Malformed();
        }
        foreach (var set in sets.EnumerateArray())
        {
            if (set.ValueKind != JsonValueKind.Object || !set.TryGetProperty("changes", out var changes) || changes.ValueKind != JsonValueKind.Array)
            {
                throw Malformed();
            }
            foreach (var change in changes.EnumerateArray())
            {
                if (change.ValueKind != JsonValueKind.Array || change.GetArrayLength() != 2 || change[0].ValueKind != JsonValueKind.String)
                {
                    throw Malformed();
                }
                values[change[0].GetString()!] = change[1].ValueKind == JsonValueKind.Null ? null : Bytes("state_queryStorageAt", change[1]);
            }
        }
    }

    private byte[] Bytes(string method, JsonElement value) => value.ValueKind == JsonValueKind.String
        ? SubtensorMinersSource.Hex(rpc, method, value.GetString()!)
        : throw new MinersSourceException($"the subtensor node at {rpc.Url} answered {method} with a {value.ValueKind} where a 0x-hex value belongs");

    private MinersSourceException Malformed() =>
        new($"the subtensor node at {rpc.Url} answered state_queryStorageAt with something that is not a list of {{block, changes}}");
}
