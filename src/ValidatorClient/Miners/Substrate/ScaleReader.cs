using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Affinetes.ValidatorClient.Miners.Substrate;

/// <summary>Bytes that are not the SCALE encoding they were read as: truncated, an unknown variant, bad UTF-8 ...</summary>
internal sealed class ScaleFormatException(string message) : Exception(message);

/// <summary>Reads SCALE primitives (little-endian integers, compact integers, length-prefixed bytes) from a buffer.</summary>
internal sealed class ScaleReader(ReadOnlyMemory<byte> data)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public int Position { get; private set; }

    public int Remaining => data.Length - Position;

    public ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > Remaining)
        {
            throw new ScaleFormatException($"needs {count} bytes at offset {Position}, {Remaining} left");
        }
        var span = data.Span.Slice(Position, count);
        Position += count;
        return span;
    }

    public byte ReadByte() => Take(1)[0];

    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    /// <summary>An unsigned little-endian integer of <paramref name="bytes"/> bytes (up to 32: u256).</summary>
    public BigInteger ReadUnsigned(int bytes) => new(Take(bytes), isUnsigned: true, isBigEndian: false);

    /// <summary>A signed (two's complement) little-endian integer of <paramref name="bytes"/> bytes.</summary>
    public BigInteger ReadSigned(int bytes) => new(Take(bytes), isUnsigned: false, isBigEndian: false);

    /// <summary>A compact integer: the two low bits of the first byte say 1, 2, 4 bytes or a length-prefixed big integer.</summary>
    public BigInteger ReadCompact()
    {
        var first = ReadByte();
        switch (first & 0b11)
        {
            case 0:
                return first >> 2;
            case 1:
                return ((uint)ReadByte() << 6) | ((uint)first >> 2);
            case 2:
                Position--;
                return ReadUInt32() >> 2;
            default:
                var length = (first >> 2) + 4;
                return ReadUnsigned(length);
        }
    }

    /// <summary>A compact integer used as a length or index: it must fit an <see cref="int"/>.</summary>
    public int ReadLength()
    {
        var offset = Position;
        var value = ReadCompact();
        return value <= int.MaxValue ? (int)value : throw new ScaleFormatException($"length {value} at offset {offset} is too large");
    }

    /// <summary>A compact-length-prefixed byte vector (<c>Vec&lt;u8&gt;</c>).</summary>
    public byte[] ReadByteVector() => Take(ReadLength()).ToArray();

    /// <summary>A compact-length-prefixed UTF-8 string.</summary>
    public string ReadString()
    {
        var offset = Position;
        var bytes = Take(ReadLength());
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new ScaleFormatException($"the string at offset {offset} is not UTF-8");
        }
    }

    /// <summary><c>Option&lt;T&gt;</c>: the byte 0 (none) or 1 followed by the value.</summary>
    public T? ReadOption<T>(Func<ScaleReader, T> read) where T : class => ReadByte() switch
    {
        0 => null,
        1 => read(this),
        var other => throw new ScaleFormatException($"option tag {other} at offset {Position - 1} is neither 0 nor 1"),
    };

    /// <summary><c>Vec&lt;T&gt;</c>: a compact count, then the items.</summary>
    public List<T> ReadVector<T>(Func<ScaleReader, T> read)
    {
        var count = ReadLength();
        // Every item takes at least one byte here, so a count past what is left is a lie, not a reason to allocate.
        if (count > Remaining)
        {
            throw new ScaleFormatException($"a vector of {count} items at offset {Position} is longer than the {Remaining} bytes left");
        }
        var items = new List<T>(count);
        for (var i = 0; i < count; i++)
        {
            items.Add(read(this));
        }
        return items;
    }
}
