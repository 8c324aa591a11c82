namespace Affinetes.ValidatorClient.Miners.Substrate;

/// <summary>scale-info's primitive types, in the order of its <c>TypeDefPrimitive</c> enum.</summary>
internal enum Primitive : byte
{
    Bool, Char, Str, U8, U16, U32, U64, U128, U256, I8, I16, I32, I64, I128, I256,
}

/// <summary>How a type is laid out (scale-info's <c>TypeDef</c>).</summary>
internal abstract record TypeDef;

internal sealed record CompositeDef(IReadOnlyList<FieldDef> Fields) : TypeDef;

internal sealed record VariantDef(IReadOnlyList<VariantCase> Variants) : TypeDef;

internal sealed record SequenceDef(int Item) : TypeDef;

internal sealed record ArrayDef(uint Length, int Item) : TypeDef;

internal sealed record TupleDef(IReadOnlyList<int> Items) : TypeDef;

internal sealed record PrimitiveDef(Primitive Kind) : TypeDef;

internal sealed record CompactDef(int Item) : TypeDef;

internal sealed record BitSequenceDef(int Store, int Order) : TypeDef;

/// <summary>A field of a composite or a variant; <see cref="Name"/> is null in tuple structs.</summary>
internal sealed record FieldDef(string? Name, int Type, string? TypeName);

/// <summary>One case of an enum: its name, its index (the byte on the wire) and its fields.</summary>
internal sealed record VariantCase(string Name, byte Index, IReadOnlyList<FieldDef> Fields);

/// <summary>A type of the registry: its id, its Rust path (<c>["sp_core", "crypto", "AccountId32"]</c>) and layout.</summary>
internal sealed record PortableType(int Id, IReadOnlyList<string> Path, TypeDef Def)
{
    public string PathText => Path.Count == 0 ? $"#{Id}" : string.Join("::", Path);
}

/// <summary>
/// The runtime's portable type registry (scale-info <c>PortableRegistry</c>), as the metadata carries it: every type a
/// storage value, call or event uses, by id. Values are decoded from it, never from layouts written here.
/// </summary>
internal sealed class TypeRegistry
{
    private readonly Dictionary<int, PortableType> _types;

    private TypeRegistry(Dictionary<int, PortableType> types) => _types = types;

    public int Count => _types.Count;

    public PortableType this[int id] => _types.TryGetValue(id, out var type)
        ? type
        : throw new ScaleFormatException($"type #{id} is not in the metadata's type registry");

    /// <summary>Reads a <c>PortableRegistry</c>: a vector of (compact id, type).</summary>
    public static TypeRegistry Read(ScaleReader reader)
    {
        var types = new Dictionary<int, PortableType>();
        foreach (var type in reader.ReadVector(ReadType))
        {
            if (!types.TryAdd(type.Id, type))
            {
                throw new ScaleFormatException($"type #{type.Id} is defined twice in the registry");
            }
        }
        return new TypeRegistry(types);
    }

    private static PortableType ReadType(ScaleReader reader)
    {
        var id = reader.ReadLength();
        var path = reader.ReadVector(r => r.ReadString());
        // Generic parameters (name, optional type) say nothing about the layout.
        reader.ReadVector(r => (r.ReadString(), r.ReadOption(o => (object)o.ReadLength())));
        var def = ReadDef(reader);
        SkipDocs(reader);
        return new PortableType(id, path, def);
    }

    private static TypeDef ReadDef(ScaleReader reader)
    {
        var offset = reader.Position;
        return reader.ReadByte() switch
        {
            0 => new CompositeDef(reader.ReadVector(ReadField)),
            1 => new VariantDef(reader.ReadVector(ReadVariant)),
            2 => new SequenceDef(reader.ReadLength()),
            3 => new ArrayDef(reader.ReadUInt32(), reader.ReadLength()),
            4 => new TupleDef(reader.ReadVector(r => r.ReadLength())),
            5 => new PrimitiveDef(ReadPrimitive(reader)),
            6 => new CompactDef(reader.ReadLength()),
            7 => new BitSequenceDef(reader.ReadLength(), reader.ReadLength()),
            var other => throw new ScaleFormatException($"unknown type definition kind {other} at offset {offset}"),
        };
    }

    private static Primitive ReadPrimitive(ScaleReader reader)
    {
        var kind = reader.ReadByte();
        return kind <= (byte)Primitive.I256 ? (Primitive)kind : throw new ScaleFormatException($"unknown primitive type {kind} at offset {reader.Position - 1}");
    }

    private static FieldDef ReadField(ScaleReader reader)
    {
        var name = reader.ReadOption(r => r.ReadString());
        var type = reader.ReadLength();
        var typeName = reader.ReadOption(r => r.ReadString());
        SkipDocs(reader);
        return new FieldDef(name, type, typeName);
    }

    private static VariantCase ReadVariant(ScaleReader reader)
    {
        var name = reader.ReadString();
        var fields = reader.ReadVector(ReadField);
        var index = reader.ReadByte();
        SkipDocs(reader);
        return new VariantCase(name, index, fields);
    }

    /// <summary>Documentation lines (a vector of strings), read past.</summary>
    internal static void SkipDocs(ScaleReader reader) => reader.ReadVector(r => r.ReadString());
}
