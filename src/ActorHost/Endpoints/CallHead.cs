using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Endpoints;

/// <summary>
/// What the endpoint layer reads of a call body before the runtime gets it: that it is UTF-8, the method a
/// <c>/call</c> body names, and the original's <c>timeout</c> keyword argument. The arguments themselves stay for the
/// runtime to read.
/// </summary>
internal readonly record struct CallHead(string? Method, TimeoutKwargValue Timeout)
{
    /// <summary>The head of a <c>/call</c> body, or the error to answer (400).</summary>
    public static (CallHead Head, ErrorDetail? Error) ReadCall(byte[] body)
    {
        if (InvalidUtf8(body) is { } utf8Error)
        {
            return (default, utf8Error);
        }
        if (Runtimes.RequestBody.IsBlank(body))
        {
            return (default, InvalidJson("the request body is empty; /call takes {\"method\": ..., \"args\": [...], \"kwargs\": {...}}"));
        }
        // As deep as Python's json module goes (its recursion limit); the runtime parses the arguments again.
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 1000 });
        string? name = null;
        var timeout = TimeoutKwargValue.Absent;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return (default, InvalidJson("the request body must be a JSON object"));
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("method"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        return (default, new ErrorDetail { Code = ErrorCodes.InvalidArguments, Message = "'method' must be a string", Parameter = "method" });
                    }
                    name = reader.GetString();
                }
                else if (reader.ValueTextEquals("kwargs"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        timeout = ReadTimeoutKwarg(ref reader);
                        continue; // the reader stands on the object's end
                    }
                }
                else
                {
                    reader.Read();
                }
                reader.Skip();
            }
        }
        catch (JsonException e)
        {
            return (default, InvalidJson($"the request body is not valid JSON: {e.Message}"));
        }
        if (name is null)
        {
            return (default, new ErrorDetail { Code = ErrorCodes.InvalidArguments, Message = "the request names no 'method'", Parameter = "method" });
        }
        return (new CallHead(name, timeout), null);
    }

    /// <summary>A flat body is only checked for UTF-8 here; the runtime parses it.</summary>
    public static ErrorDetail? CheckFlat(byte[] body) => InvalidUtf8(body);

    private static ErrorDetail? InvalidUtf8(byte[] body)
    {
        if (Utf8.IsValid(body))
        {
            return null;
        }
        var valid = 0;
        while (System.Text.Rune.DecodeFromUtf8(body.AsSpan(valid), out _, out var consumed) == System.Buffers.OperationStatus.Done)
        {
            valid += consumed;
        }
        return InvalidJson($"the request body is not valid UTF-8 (byte {valid}); JSON text must be UTF-8");
    }

    private static ErrorDetail InvalidJson(string message) => new() { Code = ErrorCodes.InvalidJson, Message = message };

    private static TimeoutKwargValue ReadTimeoutKwarg(ref Utf8JsonReader reader)
    {
        var result = TimeoutKwargValue.Absent;
        var depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            var isTimeout = reader.ValueTextEquals(TimeoutKwarg.Name);
            reader.Read();
            if (isTimeout)
            {
                result = TimeoutKwargValue.From(ref reader);
            }
            reader.Skip();
        }
        return result;
    }
}

/// <summary>The <c>timeout</c> keyword argument of a <c>/call</c> body, read as Python's <c>float(timeout)</c> would.</summary>
internal readonly record struct TimeoutKwargValue(bool Present, bool Valid, double Seconds)
{
    public static TimeoutKwargValue Absent => default;

    private static TimeoutKwargValue Invalid => new(true, false, 0);

    /// <summary>The limit the convention puts on the call (<c>timeout + 10 s</c>); null when there is none.</summary>
    public TimeSpan? Limit
    {
        get
        {
            if (!Present || !Valid || double.IsNaN(Seconds) || double.IsInfinity(Seconds))
            {
                return null;
            }
            var total = Seconds + TimeoutKwarg.GraceSeconds;
            return total <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(total, 86_400 * 365));
        }
    }

    public static TimeoutKwargValue From(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.Null => Absent, // `timeout is not None` is false: no limit
        JsonTokenType.Number => reader.TryGetDouble(out var n) ? new(true, true, n) : Invalid,
        JsonTokenType.True => new(true, true, 1),
        JsonTokenType.False => new(true, true, 0),
        JsonTokenType.String => ParseText(reader.GetString()!),
        _ => Invalid,
    };

    /// <summary>What <c>float(text)</c> accepts: surrounding blanks, signs, exponents, <c>inf</c>, <c>nan</c>, <c>1_000</c>.</summary>
    private static TimeoutKwargValue ParseText(string text)
    {
        var trimmed = text.Trim();
        var unsigned = trimmed.TrimStart('+', '-');
        var negative = trimmed.StartsWith('-');
        if (unsigned.Equals("inf", StringComparison.OrdinalIgnoreCase) || unsigned.Equals("infinity", StringComparison.OrdinalIgnoreCase))
        {
            return new(true, true, negative ? double.NegativeInfinity : double.PositiveInfinity);
        }
        if (unsigned.Equals("nan", StringComparison.OrdinalIgnoreCase))
        {
            return new(true, true, double.NaN);
        }
        if (trimmed.Contains("__", StringComparison.Ordinal) || trimmed.StartsWith('_') || trimmed.EndsWith('_'))
        {
            return Invalid;
        }
        return double.TryParse(trimmed.Replace("_", "", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
            ? new(true, true, seconds)
            : Invalid;
    }

    /// <summary>The seconds as Python prints a float (<c>1.0</c>, <c>0.5</c>, <c>1e-05</c>), for the original's message.</summary>
    public string PythonText()
    {
        var s = Seconds;
        if (double.IsPositiveInfinity(s))
        {
            return "inf";
        }
        if (double.IsNegativeInfinity(s))
        {
            return "-inf";
        }
        if (double.IsNaN(s))
        {
            return "nan";
        }
        var magnitude = Math.Abs(s);
        if (magnitude >= 1e16 || (magnitude < 1e-4 && s != 0))
        {
            // The fewest digits that read back as the same double, in Python's exponent form: 1e-05, 1.5e+16.
            for (var digits = 0; ; digits++)
            {
                var text = s.ToString("E" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
                if (digits < 16 && double.Parse(text, CultureInfo.InvariantCulture) != s)
                {
                    continue;
                }
                var e = text.IndexOf('E', StringComparison.Ordinal);
                var mantissa = text[..e].Contains('.', StringComparison.Ordinal) ? text[..e].TrimEnd('0').TrimEnd('.') : text[..e];
                var exponent = int.Parse(text[(e + 1)..], CultureInfo.InvariantCulture);
                return $"{mantissa}e{(exponent < 0 ? "-" : "+")}{Math.Abs(exponent):00}";
            }
        }
        // .NET switches to an exponent from 1e15 on, Python from 1e16 on.
        var plain = magnitude >= 1e15 ? s.ToString("0.################", CultureInfo.InvariantCulture) : s.ToString("R", CultureInfo.InvariantCulture);
        return plain.Contains('.', StringComparison.Ordinal) ? plain : plain + ".0";
    }
}
