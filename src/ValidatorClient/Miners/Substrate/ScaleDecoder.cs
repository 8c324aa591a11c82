using System.Numerics;
using System.Text;

namespace Affinetes.ValidatorClient.Miners.Substrate;

/// <summary>
/// Decodes SCALE bytes into <see cref="ScaleValue"/>s following the metadata's type registry: composites, variants,
/// sequences, arrays, tuples, primitives, compacts and bit sequences. Nothing about a particular type is written here.
/// </summary>
internal sealed class ScaleDecoder(TypeRegistry types)
{
    /// <summary>Nesting deeper than this is a malformed (or hostile) registry, not a real type.</summary>
    private const int MaxDepth = 100;

    public TypeRegistry Types => types;

    /// <summary>Decodes all of <paramref name="bytes"/> as one value of type <paramref name="typeId"/>; bytes left over are an error.</summary>
    public ScaleValue Decode(int typeId, ReadOnlyMemory<byte> bytes)
    {
        var reader = new ScaleReader(bytes);
        var value = Read(reader, typeId);
        return reader.Remaining == 0
            ? value
            : throw new ScaleFormatException($"{reader.Remaining} bytes are left after a {types[typeId].PathText} value");
    }

    /// <summary>Reads one value of type <paramref name="typeId"/> at the reader's position.</summary>
    public ScaleValue Read(ScaleReader reader, int typeId, int depth = 0)
    {
        if (depth > MaxDepth)
        {
            throw new ScaleFormatException($"type #{typeId} nests deeper than {MaxDepth} levels");
        }
        var type = types[typeId];
        return type.Def switch
        {
            CompositeDef c => new ScaleComposite(ReadFields(reader, c.Fields, depth)),
            VariantDef v => ReadVariant(reader, type, v, depth),
            SequenceDef s => ReadItems(reader, s.Item, reader.ReadLength(), depth),
            ArrayDef a => ReadItems(reader, a.Item, a.Length <= int.MaxValue ? (int)a.Length : throw new ScaleFormatException($"array type #{typeId} is too long"), depth),
            TupleDef t => new ScaleList([.. t.Items.Select(item => Read(reader, item, depth + 1))]),
            PrimitiveDef p => ReadPrimitive(reader, p.Kind),
            CompactDef => new ScaleInteger(reader.ReadCompact()),
            BitSequenceDef b => ReadBits(reader, b),
            _ => throw new ScaleFormatException($"type #{typeId} has an unknown layout"),
        };
    }

    private List<ScaleField> ReadFields(ScaleReader reader, IReadOnlyList<FieldDef> fields, int depth) =>
        [.. fields.Select(f => new ScaleField(f.Name, Read(reader, f.Type, depth + 1)))];

    private ScaleVariant ReadVariant(ScaleReader reader, PortableType type, VariantDef def, int depth)
    {
        var index = reader.ReadByte();
        var @case = def.Variants.FirstOrDefault(v => v.Index == index)
            ?? throw new ScaleFormatException($"{index} is not a variant index of {type.PathText}");
        return new ScaleVariant(@case.Name, @case.Index, ReadFields(reader, @case.Fields, depth));
    }

    private ScaleValue ReadItems(ScaleReader reader, int item, int count, int depth)
    {
        if (types[item].Def is PrimitiveDef { Kind: Primitive.U8 })
        {
            return new ScaleBytes(reader.Take(count).ToArray());
        }
        // A count past the bytes left cannot be true unless the items take no bytes; refuse before allocating.
        if (count > reader.Remaining && !IsEmpty(item, 0))
        {
            throw new ScaleFormatException($"{count} items of {types[item].PathText} cannot fit the {reader.Remaining} bytes left");
        }
        var items = new List<ScaleValue>(Math.Min(count, 4096));
        for (var i = 0; i < count; i++)
        {
            items.Add(Read(reader, item, depth + 1));
        }
        return new ScaleList(items);
    }

    /// <summary>Whether values of the type take no bytes at all (unit structs, empty tuples, zero-length arrays).</summary>
    private bool IsEmpty(int typeId, int depth) => depth <= MaxDepth && types[typeId].Def switch
    {
        CompositeDef c => c.Fields.All(f => IsEmpty(f.Type, depth + 1)),
        TupleDef t => t.Items.All(i => IsEmpty(i, depth + 1)),
        ArrayDef a => a.Length == 0 || IsEmpty(a.Item, depth + 1),
        _ => false,
    };

    private static ScaleValue ReadPrimitive(ScaleReader reader, Primitive kind) => kind switch
    {
        Primitive.Bool => reader.ReadByte() switch
        {
            0 => new ScaleBool(false),
            1 => new ScaleBool(true),
            var other => throw new ScaleFormatException($"bool byte {other} at offset {reader.Position - 1} is neither 0 nor 1"),
        },
        Primitive.Char => Rune.TryCreate(reader.ReadUInt32(), out var rune)
            ? new ScaleText(rune.ToString())
            : throw new ScaleFormatException($"the char at offset {reader.Position - 4} is not a Unicode scalar value"),
        Primitive.Str => new ScaleText(reader.ReadString()),
        Primitive.U8 => new ScaleInteger(reader.ReadByte()),
        Primitive.U16 => new ScaleInteger(reader.ReadUInt16()),
        Primitive.U32 => new ScaleInteger(reader.ReadUInt32()),
        Primitive.U64 => new ScaleInteger(reader.ReadUInt64()),
        Primitive.U128 => new ScaleInteger(reader.ReadUnsigned(16)),
        Primitive.U256 => new ScaleInteger(reader.ReadUnsigned(32)),
        Primitive.I8 => new ScaleInteger((sbyte)reader.ReadByte()),
        Primitive.I16 => new ScaleInteger(reader.ReadSigned(2)),
        Primitive.I32 => new ScaleInteger(reader.ReadSigned(4)),
        Primitive.I64 => new ScaleInteger(reader.ReadSigned(8)),
        Primitive.I128 => new ScaleInteger(reader.ReadSigned(16)),
        Primitive.I256 => new ScaleInteger(reader.ReadSigned(32)),
        _ => throw new ScaleFormatException($"unknown primitive {kind}"),
    };

    /// <summary>
    /// A <c>BitVec&lt;Store, Order&gt;</c>: a compact bit count, then whole store words (little-endian); bit i of a word
    /// is counted from its least significant bit for <c>Lsb0</c>, from its most significant for <c>Msb0</c>.
    /// </summary>
    private ScaleBits ReadBits(ScaleReader reader, BitSequenceDef def)
    {
        var width = types[def.Store].Def switch
        {
            PrimitiveDef { Kind: Primitive.U8 } => 1,
            PrimitiveDef { Kind: Primitive.U16 } => 2,
            PrimitiveDef { Kind: Primitive.U32 } => 4,
            PrimitiveDef { Kind: Primitive.U64 } => 8,
            _ => throw new ScaleFormatException($"bit sequence store type {types[def.Store].PathText} is not u8, u16, u32 or u64"),
        };
        var order = types[def.Order].Path.LastOrDefault();
        if (order is not ("Lsb0" or "Msb0"))
        {
            throw new ScaleFormatException($"bit order {types[def.Order].PathText} is neither Lsb0 nor Msb0");
        }
        var count = reader.ReadLength();
        var bitsPerWord = width * 8;
        var words = (count + bitsPerWord - 1) / bitsPerWord;
        if ((long)words * width > reader.Remaining)
        {
            throw new ScaleFormatException($"{count} bits cannot fit the {reader.Remaining} bytes left");
        }
        var bits = new List<bool>(count);
        for (var w = 0; w < words; w++)
        {
            var word = reader.ReadUnsigned(width);
            for (var b = 0; b < bitsPerWord && bits.Count < count; b++)
            {
                var shift = order == "Lsb0" ? b : bitsPerWord - 1 - b;
                bits.Add(!((word >> shift) & BigInteger.One).IsZero);
            }
        }
        return new ScaleBits(bits);
    }
}
