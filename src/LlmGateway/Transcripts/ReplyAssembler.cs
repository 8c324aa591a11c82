using System.Buffers;
using System.Text;
using System.Text.Json;
using Affinetes.Protocol;

namespace Affinetes.LlmGateway.Transcripts;

/// <summary>
/// The answer of one exchange as a transcript keeps it, read on its way through: a JSON answer's first choice, a
/// stream's chunks appended (content, reasoning, tool calls by index), an error answer's body. Each text grows to at
/// most <see cref="TranscriptLimits.MessageChars"/> + 1 characters, so a huge answer costs no more memory than that.
/// </summary>
internal sealed class ReplyAssembler
{
    private const int Cap = TranscriptLimits.MessageChars + 1;
    private const int ErrorBytes = TranscriptLimits.ErrorChars * 4;

    private readonly StringBuilder _content = new();
    private readonly StringBuilder _reasoning = new();
    private readonly SortedDictionary<int, ToolCall> _toolCalls = [];
    private ArrayBufferWriter<byte>? _error;
    private bool _sawContent;
    private bool _sawReasoning;
    private string? _rawToolCalls;

    public string? Model { get; private set; }

    public string? FinishReason { get; private set; }

    /// <summary>The answer could not be read whole (too large, not JSON): what is here is partial.</summary>
    public bool Incomplete { get; private set; }

    public string? Content => _sawContent ? _content.ToString() : null;

    public string? Reasoning => _sawReasoning ? _reasoning.ToString() : null;

    /// <summary>The tool calls as JSON text: a whole answer's as sent, a stream's assembled in OpenAI's shape.</summary>
    public string? ToolCalls => _rawToolCalls ?? (_toolCalls.Count == 0 ? null : AssembledToolCalls());

    /// <summary>The error body as the environment received it (masked), when the answer was an error.</summary>
    public string? ErrorBody => _error is null ? null : Encoding.UTF8.GetString(_error.WrittenSpan);

    /// <summary>A whole (non-streamed) answer.</summary>
    public void AddAnswer(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            Incomplete = true;
            return;
        }
        Model ??= String(root, "model");
        if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
        {
            return;
        }
        var choice = choices[0];
        FinishReason = String(choice, "finish_reason") ?? FinishReason;
        if (choice.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object)
        {
            if (message.TryGetProperty("content", out var content) && RequestMessages.Text(content) is { } text)
            {
                Append(_content, text, ref _sawContent);
            }
            if ((String(message, "reasoning_content") ?? String(message, "reasoning")) is { } reasoning)
            {
                Append(_reasoning, reasoning, ref _sawReasoning);
            }
            if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0)
            {
                _rawToolCalls = calls.GetRawText();
            }
        }
        else if (String(choice, "text") is { } completion)
        {
            Append(_content, completion, ref _sawContent);
        }
    }

    /// <summary>One complete SSE event of a stream (its <c>data:</c> lines); <c>[DONE]</c> and non-JSON events are skipped.</summary>
    public void AddEvent(ReadOnlySpan<byte> sseEvent)
    {
        var payload = SsePayload(sseEvent);
        if (payload.Length == 0 || payload.SequenceEqual("[DONE]"u8))
        {
            return;
        }
        try
        {
            using var document = JsonDocument.Parse(payload);
            AddChunk(document.RootElement);
        }
        catch (JsonException)
        {
            Incomplete = true;
        }
    }

    /// <summary>The answer was too large to read, or not JSON: it is not in the transcript.</summary>
    public void MarkUnreadable() => Incomplete = true;

    /// <summary>Bytes of an error answer as sent to the environment (masked); the first <see cref="TranscriptLimits.ErrorChars"/> or so are kept.</summary>
    public void AddErrorBytes(ReadOnlySpan<byte> data)
    {
        _error ??= new ArrayBufferWriter<byte>();
        var room = ErrorBytes - _error.WrittenCount;
        if (room > 0)
        {
            _error.Write(data[..Math.Min(room, data.Length)]);
        }
    }

    private void AddChunk(JsonElement chunk)
    {
        if (chunk.ValueKind != JsonValueKind.Object)
        {
            return;
        }
        Model ??= String(chunk, "model");
        if (!chunk.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
        {
            return;
        }
        foreach (var choice in choices.EnumerateArray())
        {
            if (choice.ValueKind != JsonValueKind.Object || (choice.TryGetProperty("index", out var index) && index.ValueKind == JsonValueKind.Number && index.GetInt32() != 0))
            {
                continue; // the first choice only, as for whole answers
            }
            FinishReason = String(choice, "finish_reason") ?? FinishReason;
            if (String(choice, "text") is { } completion)
            {
                Append(_content, completion, ref _sawContent);
            }
            if (!choice.TryGetProperty("delta", out var delta) || delta.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            if (String(delta, "content") is { } content)
            {
                Append(_content, content, ref _sawContent);
            }
            if ((String(delta, "reasoning_content") ?? String(delta, "reasoning")) is { } reasoning)
            {
                Append(_reasoning, reasoning, ref _sawReasoning);
            }
            if (delta.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
            {
                foreach (var call in calls.EnumerateArray())
                {
                    AddToolCallDelta(call);
                }
            }
        }
    }

    private void AddToolCallDelta(JsonElement call)
    {
        if (call.ValueKind != JsonValueKind.Object)
        {
            return;
        }
        var index = call.TryGetProperty("index", out var i) && i.ValueKind == JsonValueKind.Number ? i.GetInt32() : _toolCalls.Count;
        if (!_toolCalls.TryGetValue(index, out var assembled))
        {
            if (_toolCalls.Count >= 64)
            {
                return;
            }
            _toolCalls[index] = assembled = new ToolCall();
        }
        assembled.Id ??= String(call, "id");
        if (call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
        {
            assembled.Name ??= String(function, "name");
            if (String(function, "arguments") is { } arguments && assembled.Arguments.Length + arguments.Length <= Cap)
            {
                assembled.Arguments.Append(arguments);
            }
        }
    }

    private string AssembledToolCalls()
    {
        var output = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartArray();
            foreach (var call in _toolCalls.Values)
            {
                writer.WriteStartObject();
                writer.WriteString("id", call.Id);
                writer.WriteString("type", "function");
                writer.WriteStartObject("function");
                writer.WriteString("name", call.Name);
                writer.WriteString("arguments", call.Arguments.ToString());
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    private static void Append(StringBuilder text, string piece, ref bool seen)
    {
        seen = true;
        if (text.Length < Cap)
        {
            text.Append(piece.AsSpan(0, Math.Min(piece.Length, Cap - text.Length)));
        }
    }

    /// <summary>The <c>data:</c> lines of an event joined (SSE joins them with newlines; JSON does not care).</summary>
    private static byte[] SsePayload(ReadOnlySpan<byte> sseEvent)
    {
        var payload = new ArrayBufferWriter<byte>(sseEvent.Length);
        while (sseEvent.Length > 0)
        {
            var end = sseEvent.IndexOf((byte)'\n');
            var line = end < 0 ? sseEvent : sseEvent[..end];
            sseEvent = end < 0 ? [] : sseEvent[(end + 1)..];
            if (line.Length > 0 && line[^1] == '\r')
            {
                line = line[..^1];
            }
            if (line.StartsWith("data:"u8))
            {
                line = line[5..];
                if (line.Length > 0 && line[0] == ' ')
                {
                    line = line[1..];
                }
                if (payload.WrittenCount > 0)
                {
                    payload.Write("\n"u8);
                }
                payload.Write(line);
            }
        }
        return payload.WrittenSpan.ToArray();
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private sealed class ToolCall
    {
        public string? Id { get; set; }
        public string? Name { get; set; }
        public StringBuilder Arguments { get; } = new();
    }
}
