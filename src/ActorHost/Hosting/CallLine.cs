using System.Collections;
using System.Globalization;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// The state of the host's per-call log line, <c>call evaluate 200 51.3ms</c>, as a logger's <c>TState</c>. Every
/// logger sees its text and its fields (<c>Method</c>, <c>Status</c>, <c>DurationMs</c>); the host's console provider
/// queues the struct itself and writes its UTF-8 text on its writer thread, so a call spends no time formatting it.
/// </summary>
internal readonly struct CallLine(string method, int status, double durationMs) : IReadOnlyList<KeyValuePair<string, object?>>, IUtf8SpanFormattable
{
    public const string Template = "call {Method} {Status} {DurationMs:0.0}ms";

    public static readonly EventId EventId = new(1, "Call");

    /// <summary>The formatter a <see cref="ILogger.Log{TState}"/> call passes with this state.</summary>
    public static readonly Func<CallLine, Exception?, string> Format = static (line, _) => line.ToString();

    public string Method => method;

    public int Status => status;

    public double DurationMs => durationMs;

    public int Count => 4;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new(nameof(Method), method),
        1 => new(nameof(Status), status),
        2 => new(nameof(DurationMs), durationMs),
        3 => new("{OriginalFormat}", Template),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"call {method} {status} {durationMs:0.0}ms");

    public bool TryFormat(Span<byte> utf8Destination, out int bytesWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        System.Text.Unicode.Utf8.TryWrite(utf8Destination, CultureInfo.InvariantCulture, $"call {method} {status} {durationMs:0.0}ms", out bytesWritten);

    /// <summary>The most bytes <see cref="TryFormat"/> can need for this line.</summary>
    public int MaxUtf8Length => "call ".Length + (method.Length * 3) + 1 + 11 + 1 + 330 + "ms".Length; // a double's longest "0.0" form is ~310 digits
}
