namespace Affinetes.ValidatorClient.Miners.Substrate;

/// <summary>
/// Storage keys: twox128(pallet prefix) ++ twox128(item name) ++ each key part SCALE-encoded by its type and hashed
/// by its declared hasher, all read from the item's metadata.
/// </summary>
internal static class StorageKeys
{
    /// <summary>The key of a plain item, or the common prefix of all the entries of a map.</summary>
    public static byte[] Prefix(StorageEntry entry) => [.. Hashing.Twox128(entry.Prefix), .. Hashing.Twox128(entry.Name)];

    /// <summary>The key of one entry of <paramref name="entry"/> as 0x-hex, the form the JSON-RPC methods take.</summary>
    public static string Of(StorageEntry entry, ScaleEncoder encoder, TypeRegistry types, params ScaleValue[] keys)
    {
        if (keys.Length != entry.Hashers.Count)
        {
            throw new ScaleFormatException($"{entry.FullName} takes {entry.Hashers.Count} keys, not {keys.Length}");
        }
        IReadOnlyList<int> keyTypes = entry.Hashers.Count switch
        {
            0 => [],
            1 => [entry.KeyType!.Value],
            _ => types[entry.KeyType!.Value].Def is TupleDef t && t.Items.Count == entry.Hashers.Count
                ? t.Items
                : throw new ScaleFormatException($"{entry.FullName} has {entry.Hashers.Count} hashers but its key type is not a tuple of as many"),
        };
        var key = new List<byte>(Prefix(entry));
        for (var i = 0; i < keys.Length; i++)
        {
            key.AddRange(Hashing.Hash(entry.Hashers[i], encoder.Encode(keyTypes[i], keys[i])));
        }
        return "0x" + Convert.ToHexStringLower([.. key]);
    }
}
