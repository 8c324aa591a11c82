namespace Affinetes.LlmGateway.Proxy;

/// <summary>
/// Overwrites every occurrence of the upstream key in a byte stream with '*' (same length, so Content-Length stays
/// true). Bytes at the end of a piece that could begin the key are held until the next piece tells; anything else
/// goes out at once, so a stream is never delayed by more than a partial match of the key.
/// </summary>
internal sealed class KeyMask(byte[] key)
{
    private byte[] _carry = [];

    /// <summary>The masked bytes of <paramref name="piece"/> that are safe to send now.</summary>
    public byte[] Process(ReadOnlySpan<byte> piece)
    {
        var combined = new byte[_carry.Length + piece.Length];
        _carry.CopyTo(combined, 0);
        piece.CopyTo(combined.AsSpan(_carry.Length));
        var span = combined.AsSpan();
        int at;
        while ((at = span.IndexOf(key)) >= 0)
        {
            span.Slice(at, key.Length).Fill((byte)'*');
            span = span[(at + key.Length)..];
        }
        var held = PartialMatchAtEnd(combined);
        _carry = combined[^held..];
        return held == 0 ? combined : combined[..^held];
    }

    /// <summary>What is still held at the end of the stream (a partial match that never completed).</summary>
    public byte[] Finish()
    {
        var rest = _carry;
        _carry = [];
        return rest;
    }

    /// <summary>Length of the longest end of <paramref name="data"/> that is a beginning of the key.</summary>
    private int PartialMatchAtEnd(ReadOnlySpan<byte> data)
    {
        for (var length = Math.Min(key.Length - 1, data.Length); length > 0; length--)
        {
            if (data[^length..].SequenceEqual(key.AsSpan(0, length)))
            {
                return length;
            }
        }
        return 0;
    }
}
