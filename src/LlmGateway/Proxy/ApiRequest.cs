using System.Buffers;
using System.Text.Json;
using Affinetes.Protocol;

namespace Affinetes.LlmGateway.Proxy;

/// <summary>The OpenAI endpoints the gateway forwards; everything else answers 404.</summary>
internal enum ApiEndpoint
{
    ChatCompletions,
    Completions,
    Embeddings,
    ListModels,
    GetModel,
}

/// <summary>What the gateway needs from a request body, and the body to send upstream (rewritten when the gateway added fields).</summary>
/// <param name="Model">The <c>model</c> field, when a string.</param>
/// <param name="Stream">Whether the answer is an SSE stream.</param>
/// <param name="UsageAdded">The gateway added <c>stream_options.include_usage</c>, so the usage-only chunk is not the client's to see.</param>
/// <param name="Body">The bytes to forward.</param>
internal sealed record InspectedBody(string? Model, bool Stream, bool UsageAdded, ReadOnlyMemory<byte> Body);

/// <summary>Reads and, where the environment's policy says so, completes a request body.</summary>
internal static class ApiRequest
{
    /// <summary>The endpoint for a method and the path after <c>/v1</c>, and the model id of <c>GET /models/{id}</c>.</summary>
    public static ApiEndpoint? Match(string method, string path, out string? modelId)
    {
        modelId = null;
        var trimmed = path.Trim('/');
        if (HttpMethods.IsPost(method))
        {
            return trimmed switch
            {
                "chat/completions" => ApiEndpoint.ChatCompletions,
                "completions" => ApiEndpoint.Completions,
                "embeddings" => ApiEndpoint.Embeddings,
                _ => null,
            };
        }
        if (HttpMethods.IsGet(method))
        {
            if (trimmed == "models")
            {
                return ApiEndpoint.ListModels;
            }
            if (trimmed.StartsWith("models/", StringComparison.Ordinal) && trimmed.Length > "models/".Length)
            {
                modelId = Uri.UnescapeDataString(trimmed["models/".Length..]);
                return ApiEndpoint.GetModel;
            }
        }
        return null;
    }

    /// <summary>
    /// Checks <paramref name="body"/> against the limits and completes it: a missing <c>max_tokens</c> gets
    /// <paramref name="maxTokens"/>, a stream gets <c>stream_options.include_usage</c> so its tokens can be counted.
    /// Returns null and the error to answer when the request breaks a rule.
    /// </summary>
    public static InspectedBody? Inspect(ReadOnlyMemory<byte> body, ApiEndpoint endpoint, int? maxTokens, Func<string?, bool> allowsModel, out OpenAiError? error)
    {
        error = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            error = Invalid($"We could not parse the JSON body of your request. ({e.Message})");
            return null;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = Invalid("The request body must be a JSON object.");
                return null;
            }
            string? model = null;
            if (root.TryGetProperty("model", out var modelElement))
            {
                if (modelElement.ValueKind != JsonValueKind.String)
                {
                    error = Invalid("'model' must be a string.", "model");
                    return null;
                }
                model = modelElement.GetString();
            }
            if (!allowsModel(model))
            {
                error = new OpenAiError(StatusCodes.Status403Forbidden, GatewayErrorCodes.ModelNotAllowed, "invalid_request_error",
                    model is null ? "This environment must name a model ('model'); only its allowed models may be used." : $"The model `{model}` is not allowed for this environment.", "model");
                return null;
            }
            var stream = root.TryGetProperty("stream", out var streamElement) && streamElement.ValueKind == JsonValueKind.True;
            var completes = endpoint != ApiEndpoint.Embeddings;
            var addMaxTokens = false;
            if (completes && maxTokens is { } limit)
            {
                var asked = false;
                foreach (var field in (ReadOnlySpan<string>)["max_tokens", "max_completion_tokens"])
                {
                    if (!root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
                    {
                        continue;
                    }
                    asked = true;
                    if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var requested))
                    {
                        error = Invalid($"'{field}' must be an integer.", field);
                        return null;
                    }
                    if (requested > limit)
                    {
                        error = new OpenAiError(StatusCodes.Status400BadRequest, GatewayErrorCodes.MaxTokensExceeded, "invalid_request_error",
                            $"'{field}' is {requested}, above this environment's limit of {limit} tokens per request.", field);
                        return null;
                    }
                }
                addMaxTokens = !asked;
            }
            var addUsage = completes && stream && !AsksForUsage(root);
            if (!addMaxTokens && !addUsage)
            {
                return new InspectedBody(model, stream, false, body);
            }
            return new InspectedBody(model, stream, addUsage, Rewrite(root, addMaxTokens ? maxTokens : null, addUsage));
        }
    }

    private static bool AsksForUsage(JsonElement root) =>
        root.TryGetProperty("stream_options", out var options) && options.ValueKind == JsonValueKind.Object
        && options.TryGetProperty("include_usage", out var include) && include.ValueKind == JsonValueKind.True;

    /// <summary>The same object with <c>max_tokens</c> and/or <c>stream_options.include_usage: true</c> added.</summary>
    private static ReadOnlyMemory<byte> Rewrite(JsonElement root, int? maxTokens, bool addUsage)
    {
        var output = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            var wroteOptions = false;
            foreach (var property in root.EnumerateObject())
            {
                if (addUsage && property.NameEquals("stream_options"))
                {
                    writer.WriteStartObject("stream_options");
                    if (property.Value.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var option in property.Value.EnumerateObject().Where(o => !o.NameEquals("include_usage")))
                        {
                            option.WriteTo(writer);
                        }
                    }
                    writer.WriteBoolean("include_usage", true);
                    writer.WriteEndObject();
                    wroteOptions = true;
                }
                else if (maxTokens is null || !(property.NameEquals("max_tokens") || property.NameEquals("max_completion_tokens")))
                {
                    property.WriteTo(writer);
                }
            }
            if (maxTokens is { } value)
            {
                writer.WriteNumber("max_tokens", value);
            }
            if (addUsage && !wroteOptions)
            {
                writer.WriteStartObject("stream_options");
                writer.WriteBoolean("include_usage", true);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return output.WrittenMemory;
    }

    private static OpenAiError Invalid(string message, string? param = null) =>
        new(StatusCodes.Status400BadRequest, GatewayErrorCodes.InvalidRequest, "invalid_request_error", message, param);
}
