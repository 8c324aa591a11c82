using System.Numerics;
using System.Text;

namespace Affinetes.ValidatorClient.Miners.Substrate;

/// <summary>
/// Encodes <see cref="ScaleValue"/>s as SCALE following the type registry, for storage map keys (a netuid, an
/// account): the inverse of <see cref="ScaleDecoder"/> for every layout but bit sequences.
/// </summary>
internal sealed class ScaleEncoder(TypeRegistry types)
{
    private const int MaxDepth = 100;

    public byte[] Encode(int typeId, ScaleValue value)
    {
        var output = new List<byte>();
        Write(output, typeId, value, 0);
        return [.. output];
    }

    private void Write(List<byte> output, int typeId, ScaleValue value, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new ScaleFormatException($"type #{typeId} nests deeper than {MaxDepth} levels");
        }
        var type = types[typeId];
        switch (type.Def, value)
        {
            case (CompositeDef c, ScaleComposite v) when v.Fields.Count == c.Fields.Count:
                for (var i = 0; i < c.Fields.Count; i++)
                {
                    Write(output, c.Fields[i].Type, v.Fields[i].Value, depth + 1);
                }
                break;
            case (CompositeDef { Fields.Count: 1 } c, _):
                // A newtype (AccountId32 around [u8; 32]) given as its inner value.
                Write(output, c.Fields[0].Type, value, depth + 1);
                break;
            case (VariantDef d, ScaleVariant v):
                var @case = d.Variants.FirstOrDefault(x => x.Name == v.Name)
                    ?? throw new ScaleFormatException($"{type.PathText} has no variant {v.Name}");
                output.Add(@case.Index);
                if (@case.Fields.Count != v.Fields.Count)
                {
                    throw new ScaleFormatException($"{type.PathText}::{v.Name} has {@case.Fields.Count} fields, not {v.Fields.Count}");
                }
                for (var i = 0; i < @case.Fields.Count; i++)
                {
                    Write(output, @case.Fields[i].Type, v.Fields[i].Value, depth + 1);
                }
                break;
            case (SequenceDef s, _):
                var items = Items(value, s.Item);
                WriteCompact(output, items.Count);
                WriteItems(output, s.Item, items, depth);
                break;
            case (ArrayDef a, _):
                var elements = Items(value, a.Item);
                if (elements.Count != a.Length)
                {
                    throw new ScaleFormatException($"{type.PathText} holds {a.Length} items, not {elements.Count}");
                }
                WriteItems(output, a.Item, elements, depth);
                break;
            case (TupleDef t, ScaleList l) when l.Items.Count == t.Items.Count:
                for (var i = 0; i < t.Items.Count; i++)
                {
                    Write(output, t.Items[i], l.Items[i], depth + 1);
                }
                break;
            case (PrimitiveDef p, _):
                WritePrimitive(output, p.Kind, value);
                break;
            case (CompactDef, _) when value.AsInteger() is { } n && n.Sign >= 0:
                WriteCompact(output, n);
                break;
            default:
                throw new ScaleFormatException($"a {value.GetType().Name} cannot be encoded as {type.PathText} ({type.Def.GetType().Name})");
        }
    }

    private IReadOnlyList<ScaleValue> Items(ScaleValue value, int item) => value switch
    {
        ScaleList l => l.Items,
        ScaleBytes b when types[item].Def is PrimitiveDef { Kind: Primitive.U8 } => [.. b.Bytes.Select(x => (ScaleValue)new ScaleInteger(x))],
        _ => throw new ScaleFormatException($"a {value.GetType().Name} is not a list of {types[item].PathText}"),
    };

    private void WriteItems(List<byte> output, int item, IReadOnlyList<ScaleValue> items, int depth)
    {
        foreach (var x in items)
        {
            Write(output, item, x, depth + 1);
        }
    }

    private static void WritePrimitive(List<byte> output, Primitive kind, ScaleValue value)
    {
        switch (kind, value)
        {
            case (Primitive.Bool, ScaleBool b):
                output.Add(b.Value ? (byte)1 : (byte)0);
                return;
            case (Primitive.Str, ScaleText t):
                var text = Encoding.UTF8.GetBytes(t.Value);
                WriteCompact(output, text.Length);
                output.AddRange(text);
                return;
        }
        var (bytes, signed) = kind switch
        {
            Primitive.U8 => (1, false), Primitive.U16 => (2, false), Primitive.U32 => (4, false), Primitive.U64 => (8, false),
            Primitive.U128 => (16, false), Primitive.U256 => (32, false),
            Primitive.I8 => (1, true), Primitive.I16 => (2, true), Primitive.I32 => (4, true), Primitive.I64 => (8, true),
            Primitive.I128 => (16, true), Primitive.I256 => (32, true),
            _ => throw new ScaleFormatException($"a {value.GetType().Name} cannot be encoded as {kind}"),
        };
        var n = value.AsInteger() ?? throw new ScaleFormatException($"a {value.GetType().Name} is not an integer ({kind})");
        var min = signed ? -(BigInteger.One << (bytes * 8 - 1)) : BigInteger.Zero;
        var max = signed ? (BigInteger.One << (bytes * 8 - 1)) - 1 : (BigInteger.One << (bytes * 8)) - 1;
        if (n < min || n > max)
        {
            throw new ScaleFormatException($"{n} does not fit {kind}");
        }
        var encoded = new byte[bytes];
        if (n.Sign < 0)
        {
            Array.Fill(encoded, (byte)0xff);
        }
        n.TryWriteBytes(encoded, out _, isUnsigned: !signed, isBigEndian: false);
        output.AddRange(encoded);
    }

    public static void WriteCompact(List<byte> output, BigInteger n)
    {
        if (n < 1 << 6)
        {
            output.Add((byte)((int)n << 2));
        }
        else if (n < 1 << 14)
        {
            var v = ((int)n << 2) | 1;
            output.Add((byte)v);
            output.Add((byte)(v >> 8));
        }
        else if (n < 1 << 30)
        {
            var v = ((uint)n << 2) | 2;
            output.AddRange(BitConverter.IsLittleEndian ? BitConverter.GetBytes(v) : [.. BitConverter.GetBytes(v).Reverse()]);
        }
        else
        {
            var bytes = n.ToByteArray(isUnsigned: true, isBigEndian: false);
            output.Add((byte)(((bytes.Length - 4) << 2) | 3));
            output.AddRange(bytes);
        }
    }
}
