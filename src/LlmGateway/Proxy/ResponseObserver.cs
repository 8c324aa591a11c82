using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;
using Affinetes.LlmGateway.Usage;

namespace Affinetes.LlmGateway.Proxy;

/// <summary>
/// The upstream's answer as the client receives it, read once on its way through:
/// <list type="bullet">
/// <item>an SSE stream goes out event by event as each event is complete (never held longer), its <c>usage</c> is
/// read, and the usage-only chunk is removed when the gateway asked for it;</item>
/// <item>any other answer goes out as it arrives; a successful one's <c>usage</c> is read at the end;</item>
/// <item>in both, any trace of the upstream key is masked (<see cref="KeyMask"/>), whatever the status;</item>
/// <item>when the exchange is recorded, its answer is assembled for the transcript on the way (every event of a
/// stream, the whole JSON answer, the masked body of an error).</item>
/// </list>
/// </summary>
internal sealed class ResponseObserver : Stream
{
    /// <summary>Answers longer than this are passed on without reading their usage.</summary>
    private const int MaxJsonBytes = 8 * 1024 * 1024;
    /// <summary>An SSE "event" longer than this without a blank line is not SSE: it is passed on as is.</summary>
    private const int MaxEventBytes = 1024 * 1024;
    private static ReadOnlySpan<byte> UsageProperty => "\"usage\""u8;

    private readonly Stream _inner;
    private readonly Exchange _exchange;
    private readonly KeyMask? _mask;
    private readonly bool _sse;
    private readonly bool _readUsage;
    private readonly bool _captureError;
    private readonly ArrayBufferWriter<byte> _held = new();
    private byte[]? _readBuffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    private byte[] _out = [];
    private int _outStart;
    private bool _overflow;
    private bool _ended;

    public ResponseObserver(Stream inner, Exchange exchange, HttpStatusCode status, string? mediaType, string? key)
    {
        _inner = inner;
        _exchange = exchange;
        _mask = string.IsNullOrEmpty(key) ? null : new KeyMask(Encoding.UTF8.GetBytes(key));
        _readUsage = (int)status < 400;
        _sse = _readUsage && string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase);
        _captureError = !_readUsage && exchange.Reply is not null;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (_outStart < _out.Length)
            {
                if (buffer.Length == 0)
                {
                    return 0; // a zero-byte read asks whether data is ready: it is
                }
                var count = Math.Min(buffer.Length, _out.Length - _outStart);
                _out.AsSpan(_outStart, count).CopyTo(buffer.Span);
                _outStart += count;
                return count;
            }
            if (_ended)
            {
                return 0;
            }
            if (buffer.Length == 0)
            {
                // A zero-byte read waits for data without taking a buffer; the next read takes it.
                return await _inner.ReadAsync(Memory<byte>.Empty, cancellationToken);
            }
            var readBuffer = _readBuffer ?? throw new ObjectDisposedException(nameof(ResponseObserver));
            var read = await _inner.ReadAsync(readBuffer, cancellationToken);
            if (read == 0)
            {
                _ended = true;
                End();
            }
            else if (_sse)
            {
                TakeSse(readBuffer.AsSpan(0, read));
            }
            else
            {
                TakePlain(readBuffer.AsSpan(0, read));
            }
        }
    }

    private void TakePlain(ReadOnlySpan<byte> data)
    {
        if (_readUsage && !_overflow)
        {
            if (_held.WrittenCount + data.Length > MaxJsonBytes)
            {
                _overflow = true;
                _held.Clear();
            }
            else
            {
                _held.Write(data);
            }
        }
        Emit(data);
    }

    /// <summary>Appends to the partial event, then sends on every complete event (blank-line terminated).</summary>
    private void TakeSse(ReadOnlySpan<byte> data)
    {
        _held.Write(data);
        var held = _held.WrittenSpan;
        var start = 0;
        var output = new ArrayBufferWriter<byte>(held.Length);
        while (EventEnd(held[start..]) is var end and > 0)
        {
            var sseEvent = held.Slice(start, end);
            _exchange.Reply?.AddEvent(sseEvent);
            if (!ObserveEvent(sseEvent))
            {
                output.Write(sseEvent);
            }
            start += end;
        }
        var rest = held[start..];
        if (rest.Length > MaxEventBytes)
        {
            output.Write(rest);
            rest = [];
        }
        var remaining = rest.ToArray();
        _held.Clear();
        _held.Write(remaining);
        Emit(output.WrittenSpan);
    }

    /// <summary>Length of the first complete event including its blank line, or 0.</summary>
    private static int EventEnd(ReadOnlySpan<byte> data)
    {
        for (var i = 0; i < data.Length - 1; i++)
        {
            if (data[i] != '\n')
            {
                continue;
            }
            if (data[i + 1] == '\n')
            {
                return i + 2;
            }
            if (data[i + 1] == '\r' && i + 2 < data.Length && data[i + 2] == '\n')
            {
                return i + 3;
            }
        }
        return 0;
    }

    /// <summary>Reads the usage of one event; true when the event is the gateway's own usage chunk, to be dropped.</summary>
    private bool ObserveEvent(ReadOnlySpan<byte> sseEvent)
    {
        if (sseEvent.IndexOf(UsageProperty) < 0)
        {
            return false;
        }
        var payload = new StringBuilder();
        foreach (var line in Encoding.UTF8.GetString(sseEvent).Split('\n'))
        {
            var trimmed = line.TrimEnd('\r');
            if (trimmed.StartsWith("data:", StringComparison.Ordinal))
            {
                payload.Append(trimmed.AsSpan(5).TrimStart(' '));
            }
        }
        try
        {
            using var document = JsonDocument.Parse(payload.ToString());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || Tokens(root) is not { } tokens)
            {
                return false;
            }
            _exchange.Tokens = tokens;
            return _exchange.UsageAdded && root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() == 0;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private void End()
    {
        var rest = _held.WrittenSpan.ToArray();
        _held.Clear();
        if (_sse)
        {
            if (rest.Length > 0)
            {
                _exchange.Reply?.AddEvent(rest);
            }
            Emit(rest.Length > 0 && ObserveEvent(rest) ? [] : rest);
        }
        else if (_readUsage && !_overflow)
        {
            ReadAnswer(rest);
        }
        else if (_readUsage)
        {
            _exchange.Reply?.MarkUnreadable();
        }
        if (_mask?.Finish() is { Length: > 0 } held)
        {
            Append(held);
        }
    }

    /// <summary>Queues <paramref name="data"/> for the client, masked.</summary>
    private void Emit(ReadOnlySpan<byte> data)
    {
        if (data.Length > 0)
        {
            Append(_mask is null ? data.ToArray() : _mask.Process(data));
        }
    }

    private void Append(byte[] data)
    {
        if (_captureError)
        {
            _exchange.Reply!.AddErrorBytes(data);
        }
        var pending = _out.Length - _outStart;
        if (pending == 0)
        {
            _out = data;
        }
        else
        {
            var joined = new byte[pending + data.Length];
            _out.AsSpan(_outStart).CopyTo(joined);
            data.CopyTo(joined, pending);
            _out = joined;
        }
        _outStart = 0;
    }

    /// <summary>A whole answer: its usage, and its first choice when the exchange is recorded.</summary>
    private void ReadAnswer(ReadOnlySpan<byte> json)
    {
        if (_exchange.Reply is not { } reply)
        {
            _exchange.Tokens = UsageIn(json);
            return;
        }
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            _exchange.Tokens = root.ValueKind == JsonValueKind.Object ? Tokens(root) : null;
            reply.AddAnswer(root);
        }
        catch (JsonException)
        {
            reply.MarkUnreadable();
        }
    }

    private static TokenCounts? UsageIn(ReadOnlySpan<byte> json)
    {
        if (json.IndexOf(UsageProperty) < 0)
        {
            return null;
        }
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.ValueKind == JsonValueKind.Object ? Tokens(document.RootElement) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The counts of a <c>usage</c> object (chat, completions and embeddings shapes), or null when there is none.</summary>
    private static TokenCounts? Tokens(JsonElement root)
    {
        if (!root.TryGetProperty("usage", out var usage) || usage.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        var prompt = Count(usage, "prompt_tokens");
        var completion = Count(usage, "completion_tokens");
        var total = usage.TryGetProperty("total_tokens", out _) ? Count(usage, "total_tokens") : prompt + completion;
        return new TokenCounts(prompt, completion, total);
    }

    private static long Count(JsonElement usage, string name) =>
        usage.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var count) ? count : 0;

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            if (Interlocked.Exchange(ref _readBuffer, null) is { } buffer)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        base.Dispose(disposing);
    }
}
