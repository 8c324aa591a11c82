using System.Text;
using System.Text.Json;
using Affinetes.LlmGateway.Proxy;
using Affinetes.Protocol;

namespace Affinetes.LlmGateway.Transcripts;

/// <summary>
/// The messages of a request body as a transcript shows them: a chat's <c>messages</c> (content parts joined, non-text
/// parts named in brackets), a completion's <c>prompt</c>, an embedding's <c>input</c>. Texts are whole here; the
/// recorder bounds them.
/// </summary>
internal static class RequestMessages
{
    public static List<ExchangeMessage> Read(ReadOnlyMemory<byte> body, ApiEndpoint endpoint)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            return root.ValueKind != JsonValueKind.Object ? [] : endpoint switch
            {
                ApiEndpoint.ChatCompletions => Chat(root),
                ApiEndpoint.Completions => Single(root, "prompt"),
                ApiEndpoint.Embeddings => Single(root, "input"),
                _ => [],
            };
        }
        catch (JsonException)
        {
            return [];
        }
    }

    private static List<ExchangeMessage> Chat(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            return [];
        }
        var read = new List<ExchangeMessage>(messages.GetArrayLength());
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            read.Add(new ExchangeMessage
            {
                Role = String(message, "role") ?? "?",
                Content = message.TryGetProperty("content", out var content) ? Text(content) : null,
                Name = String(message, "name"),
                ToolCalls = message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array ? calls.GetRawText() : null,
                ToolCallId = String(message, "tool_call_id"),
            });
        }
        return read;
    }

    private static List<ExchangeMessage> Single(JsonElement root, string field) =>
        root.TryGetProperty(field, out var value) ? [new ExchangeMessage { Role = field, Content = Text(value) }] : [];

    /// <summary>A content value as text: a string as is, an array of parts or strings joined, token arrays counted.</summary>
    internal static string? Text(JsonElement content)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString();
            case JsonValueKind.Array:
                var text = new StringBuilder();
                foreach (var part in content.EnumerateArray())
                {
                    switch (part.ValueKind)
                    {
                        case JsonValueKind.String:
                            Separate(text).Append(part.GetString());
                            break;
                        case JsonValueKind.Number:
                            return $"[{content.GetArrayLength()} tokens]";
                        case JsonValueKind.Array:
                            Separate(text).Append('[').Append(part.GetArrayLength()).Append(" tokens]");
                            break;
                        case JsonValueKind.Object when String(part, "text") is { } partText:
                            text.Append(partText);
                            break;
                        case JsonValueKind.Object:
                            Separate(text).Append('[').Append(String(part, "type") ?? "part").Append(']');
                            break;
                        default:
                            break;
                    }
                }
                return text.ToString();
            case JsonValueKind.Null or JsonValueKind.Undefined:
                return null;
            default:
                return content.GetRawText();
        }
    }

    private static StringBuilder Separate(StringBuilder text) => text.Length > 0 ? text.Append('\n') : text;

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
