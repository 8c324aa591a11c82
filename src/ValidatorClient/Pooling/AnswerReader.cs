using System.Buffers;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>
/// Reads a host's answer within the result limit, and makes its JSON safe to hold: an answer past the limit is not
/// read further (<see cref="ResultTooLargeException"/>); a string escape of half a UTF-16 surrogate pair (<c>\ud800</c>
/// alone), which JSON allows but no text can hold, becomes U+FFFD, as UTF-8 decoders do with bytes they cannot read.
/// </summary>
internal static class AnswerReader
{
    /// <summary>What an answer may add to its result: the envelope, an error's message and traceback.</summary>
    public const int EnvelopeAllowance = 64 * 1024;

    /// <summary>How deeply readers of answers and stored results let JSON nest: a result's own depth plus its envelope.</summary>
    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = ResultLimits.MaxDepth + 2 };

    private static readonly byte[] Replacement = "\\ufffd"u8.ToArray();

    /// <summary>The body, at most <paramref name="limit"/> + <see cref="EnvelopeAllowance"/> bytes; past that the call fails as too large.</summary>
    public static async Task<byte[]> ReadAsync(HttpResponseMessage response, string method, long limit, CancellationToken cancellationToken)
    {
        var cap = limit + EnvelopeAllowance;
        if (response.Content.Headers.ContentLength is { } declared && declared > cap)
        {
            throw TooLarge(method, limit, declared);
        }
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(cap + 1, response.Content.Headers.ContentLength + 1 ?? 16 * 1024));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > cap)
                    {
                        throw TooLarge(method, limit, response.Content.Headers.ContentLength);
                    }
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(cap + 1, (long)buffer.Length * 2));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    return buffer.AsSpan(0, length).ToArray();
                }
                length += read;
                if (length > cap)
                {
                    throw TooLarge(method, limit, response.Content.Headers.ContentLength);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static ResultTooLargeException TooLarge(string method, long limit, long? size) => new(method,
        $"the result of {method} is larger than the limit of {ResultLimits.Describe(limit)}" +
        (size is { } s ? $" (the answer is {ResultLimits.Describe(s)})" : "") + "; the client stopped reading it and kept nothing (raise the result size limit to accept it)",
        limit, size);

    /// <summary><paramref name="json"/> with every lone surrogate escape replaced by <c>\ufffd</c>; the same array when there is none.</summary>
    public static byte[] RepairLoneSurrogates(byte[] json)
    {
        if (!MayHoldSurrogateEscape(json))
        {
            return json;
        }
        ArrayBufferWriter<byte>? repaired = null;
        var copied = 0;
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var b = json[i];
            if (!inString)
            {
                inString = b == '"';
                continue;
            }
            if (b == '"')
            {
                inString = false;
                continue;
            }
            if (b != '\\' || i + 1 >= json.Length)
            {
                continue;
            }
            if (json[i + 1] != 'u')
            {
                i++; // \" \\ \n ...: the escaped character is not a quote or a backslash of its own
                continue;
            }
            var unit = HexUnit(json, i + 2);
            var lone = unit is >= 0xDC00 and <= 0xDFFF
                || (unit is >= 0xD800 and <= 0xDBFF && !(i + 11 < json.Length && json[i + 6] == '\\' && json[i + 7] == 'u' && HexUnit(json, i + 8) is >= 0xDC00 and <= 0xDFFF));
            if (lone)
            {
                repaired ??= new ArrayBufferWriter<byte>(json.Length);
                repaired.Write(json.AsSpan(copied, i - copied));
                repaired.Write(Replacement);
                copied = i + 6;
                i += 5;
            }
            else
            {
                i += unit is >= 0xD800 and <= 0xDBFF ? 11 : 5; // a whole pair, or one escape
            }
        }
        if (repaired is null)
        {
            return json;
        }
        repaired.Write(json.AsSpan(copied));
        return repaired.WrittenSpan.ToArray();
    }

    /// <summary><paramref name="json"/> as text with its lone surrogate escapes repaired (stored results written before they were).</summary>
    public static string RepairLoneSurrogates(string json) =>
        json.Contains("\\u", StringComparison.Ordinal)
            ? System.Text.Encoding.UTF8.GetString(RepairLoneSurrogates(System.Text.Encoding.UTF8.GetBytes(json)))
            : json;

    private static bool MayHoldSurrogateEscape(ReadOnlySpan<byte> json)
    {
        var at = json.IndexOf("\\u"u8);
        while (at >= 0 && at + 2 < json.Length)
        {
            if (json[at + 2] is (byte)'d' or (byte)'D')
            {
                return true;
            }
            var next = json[(at + 2)..].IndexOf("\\u"u8);
            at = next < 0 ? -1 : at + 2 + next;
        }
        return false;
    }

    /// <summary>The four hex digits at <paramref name="at"/> as a number; -1 when they are not there.</summary>
    private static int HexUnit(byte[] json, int at)
    {
        if (at + 4 > json.Length)
        {
            return -1;
        }
        var value = 0;
        for (var k = 0; k < 4; k++)
        {
            var digit = HexDigit(json[at + k]);
            if (digit < 0)
            {
                return -1;
            }
            value = value * 16 + digit;
        }
        return value;
    }

    private static int HexDigit(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
