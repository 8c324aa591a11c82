namespace Affinetes.ValidatorClient.Miners.Substrate;

/// <summary>A storage item: its key hashers and types (none for a plain value) and its value type and default.</summary>
/// <param name="Pallet">The pallet's name.</param>
/// <param name="Prefix">The pallet's storage prefix (hashed into every key).</param>
/// <param name="Name">The item's name (hashed into every key).</param>
/// <param name="IsOptional">True for <c>OptionQuery</c> items (absent means none); false when absent means <see cref="Default"/>.</param>
/// <param name="Hashers">One per key part; empty for a plain value.</param>
/// <param name="KeyType">The key's type (a tuple with one element per hasher when there are several); null for a plain value.</param>
/// <param name="ValueType">The value's type.</param>
/// <param name="Default">The SCALE value an absent entry stands for (for items that are not optional).</param>
internal sealed record StorageEntry(string Pallet, string Prefix, string Name, bool IsOptional, IReadOnlyList<StorageHasher> Hashers, int? KeyType, int ValueType, byte[] Default)
{
    public string FullName => $"{Pallet}.{Name}";
}

/// <summary>A constant of a pallet: its type and SCALE-encoded value.</summary>
internal sealed record PalletConstant(string Name, int Type, byte[] Value);

/// <summary>A pallet: its storage items (under <see cref="StoragePrefix"/>) and constants.</summary>
internal sealed record PalletMetadata(string Name, byte Index, string? StoragePrefix, IReadOnlyList<StorageEntry> Storage, IReadOnlyList<PalletConstant> Constants);

/// <summary>
/// A runtime's metadata (<c>state_getMetadata</c>), versions 14 and 15: the type registry and the pallets with their
/// storage items and constants. Calls, events, errors and runtime APIs are not needed to read storage and are not kept.
/// </summary>
internal sealed class RuntimeMetadata
{
    /// <summary>"meta", little-endian, before the version byte.</summary>
    private const uint Magic = 0x6174656d;

    private RuntimeMetadata(int version, TypeRegistry types, IReadOnlyList<PalletMetadata> pallets)
    {
        Version = version;
        Types = types;
        Pallets = pallets;
    }

    public int Version { get; }

    public TypeRegistry Types { get; }

    public IReadOnlyList<PalletMetadata> Pallets { get; }

    public PalletMetadata? Pallet(string name) => Pallets.FirstOrDefault(p => p.Name == name);

    public StorageEntry? Storage(string pallet, string item) => Pallet(pallet)?.Storage.FirstOrDefault(s => s.Name == item);

    public PalletConstant? Constant(string pallet, string name) => Pallet(pallet)?.Constants.FirstOrDefault(c => c.Name == name);

    /// <summary>Parses <c>RuntimeMetadataPrefixed</c>: the magic, the version, then a V14 or V15 body.</summary>
    public static RuntimeMetadata Parse(ReadOnlyMemory<byte> bytes)
    {
        var reader = new ScaleReader(bytes);
        if (reader.Remaining < 5 || reader.ReadUInt32() != Magic)
        {
            throw new ScaleFormatException("the metadata does not start with the 'meta' magic");
        }
        var version = reader.ReadByte();
        if (version is not (14 or 15))
        {
            throw new ScaleFormatException($"metadata version {version} is not supported (14 and 15 are)");
        }
        var types = TypeRegistry.Read(reader);
        var pallets = reader.ReadVector(r => ReadPallet(r, version));
        // What follows (extrinsic, runtime type, and in V15 the runtime APIs and outer enums) is not needed.
        return new RuntimeMetadata(version, types, pallets);
    }

    private static PalletMetadata ReadPallet(ScaleReader reader, int version)
    {
        var name = reader.ReadString();
        string? prefix = null;
        IReadOnlyList<StorageEntry> storage = [];
        if (reader.ReadOption(r => (object)r) is not null)
        {
            var storagePrefix = reader.ReadString();
            prefix = storagePrefix;
            storage = reader.ReadVector(r => ReadStorageEntry(r, name, storagePrefix));
        }
        SkipTypeOption(reader); // calls
        SkipTypeOption(reader); // event
        var constants = reader.ReadVector(ReadConstant);
        SkipTypeOption(reader); // error
        var index = reader.ReadByte();
        if (version >= 15)
        {
            TypeRegistry.SkipDocs(reader);
        }
        return new PalletMetadata(name, index, prefix, storage, constants);
    }

    private static StorageEntry ReadStorageEntry(ScaleReader reader, string pallet, string prefix)
    {
        var name = reader.ReadString();
        var modifier = reader.ReadByte();
        if (modifier > 1)
        {
            throw new ScaleFormatException($"storage item {pallet}.{name} has an unknown modifier {modifier}");
        }
        IReadOnlyList<StorageHasher> hashers = [];
        int? key = null;
        int value;
        switch (reader.ReadByte())
        {
            case 0:
                value = reader.ReadLength();
                break;
            case 1:
                hashers = reader.ReadVector(r => r.ReadByte() is var h && h <= (byte)StorageHasher.Identity
                    ? (StorageHasher)h
                    : throw new ScaleFormatException($"storage item {pallet}.{name} has an unknown hasher {h}"));
                key = reader.ReadLength();
                value = reader.ReadLength();
                break;
            default:
                throw new ScaleFormatException($"storage item {pallet}.{name} has an unknown kind");
        }
        var fallback = reader.ReadByteVector();
        TypeRegistry.SkipDocs(reader);
        return new StorageEntry(pallet, prefix, name, IsOptional: modifier == 0, hashers, key, value, fallback);
    }

    private static PalletConstant ReadConstant(ScaleReader reader)
    {
        var name = reader.ReadString();
        var type = reader.ReadLength();
        var value = reader.ReadByteVector();
        TypeRegistry.SkipDocs(reader);
        return new PalletConstant(name, type, value);
    }

    /// <summary><c>Option&lt;{ ty: compact type id }&gt;</c>, as calls, events and errors are given.</summary>
    private static void SkipTypeOption(ScaleReader reader)
    {
        switch (reader.ReadByte())
        {
            case 0:
                break;
            case 1:
                reader.ReadLength();
                break;
            case var other:
                throw new ScaleFormatException($"option tag {other} at offset {reader.Position - 1} is neither 0 nor 1");
        }
    }
}
