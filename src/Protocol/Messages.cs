using System.Text.Json;
using System.Text.Json.Serialization;

namespace Affinetes.Protocol;

/// <summary>Body of <c>POST /call</c>: which method, positional and keyword arguments.</summary>
public sealed record CallRequest
{
    [JsonPropertyName("method")] public string? Method { get; init; }
    [JsonPropertyName("args")] public IReadOnlyList<JsonElement>? Args { get; init; }
    [JsonPropertyName("kwargs")] public IReadOnlyDictionary<string, JsonElement>? Kwargs { get; init; }
}

/// <summary>Success answer of a call, exactly as the Python original shapes it.</summary>
public sealed record CallEnvelope
{
    [JsonPropertyName(EnvelopeFields.Status)] public required string Status { get; init; }
    [JsonPropertyName(EnvelopeFields.Result)] public JsonElement? Result { get; init; }
    [JsonPropertyName("error")] public string? Error { get; init; }
}

/// <summary>
/// Error answer. <see cref="Detail"/> keeps the FastAPI shape the original's clients print; <see cref="Error"/> is
/// what a client can act on.
/// </summary>
public sealed record ErrorResponse
{
    [JsonPropertyName("detail")] public required string Detail { get; init; }
    [JsonPropertyName("error")] public required ErrorDetail Error { get; init; }
}

/// <summary>The actionable part of an error answer.</summary>
public sealed record ErrorDetail
{
    /// <summary>One of <see cref="ErrorCodes"/>.</summary>
    [JsonPropertyName("code")] public required string Code { get; init; }
    [JsonPropertyName("message")] public required string Message { get; init; }
    /// <summary>The method the request named, when there was one.</summary>
    [JsonPropertyName("method")] public string? Method { get; init; }
    /// <summary>The parameter at fault, for <see cref="ErrorCodes.InvalidArguments"/>.</summary>
    [JsonPropertyName("parameter")] public string? Parameter { get; init; }
    /// <summary>The exception type raised by the actor, for <see cref="ErrorCodes.ActorError"/>.</summary>
    [JsonPropertyName("type")] public string? Type { get; init; }
    /// <summary>Only when the host runs with its debug option.</summary>
    [JsonPropertyName("traceback")] public string? Traceback { get; init; }
}

/// <summary>One parameter of an actor method.</summary>
public sealed record ParameterDescriptor
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    /// <summary>JSON schema type name from the annotation (<c>integer</c>, <c>string</c> ...), null when unannotated.</summary>
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("required")] public bool Required { get; init; }
    /// <summary><c>null</c> is a valid value: the annotation is optional or the default is <c>None</c>.</summary>
    [JsonPropertyName("nullable")] public bool Nullable { get; init; }
    [JsonPropertyName("default")] public JsonElement? Default { get; init; }
    /// <summary><c>positional_or_keyword</c>, <c>keyword_only</c>, <c>var_positional</c>, <c>var_keyword</c> ...</summary>
    [JsonPropertyName("kind")] public string Kind { get; init; } = "positional_or_keyword";
}

/// <summary>One public method of the actor, as listed by <c>GET /methods</c>.</summary>
public sealed record MethodDescriptor
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    /// <summary>Other names the method answers to (a C# method's own name beside its snake_case one).</summary>
    [JsonPropertyName("aliases")] public IReadOnlyList<string>? Aliases { get; init; }
    [JsonPropertyName("signature")] public required string Signature { get; init; }
    [JsonPropertyName("source")] public string Source { get; init; } = "Actor";
    [JsonPropertyName("endpoint")] public required string Endpoint { get; init; }
    [JsonPropertyName("is_async")] public bool IsAsync { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("parameters")] public IReadOnlyList<ParameterDescriptor> Parameters { get; init; } = [];
}

/// <summary>Body of <c>GET /methods</c>.</summary>
public sealed record MethodsResponse
{
    [JsonPropertyName("methods")] public required IReadOnlyList<MethodDescriptor> Methods { get; init; }
    [JsonPropertyName("usage")] public IReadOnlyDictionary<string, string>? Usage { get; init; }
}

/// <summary>Body of <c>GET /health</c> and <c>GET /ready</c>.</summary>
public sealed record HealthResponse
{
    [JsonPropertyName(EnvelopeFields.Status)] public required string Status { get; init; }
    /// <summary>Why the host is not ready (an import error, a constructor exception), when it is not.</summary>
    [JsonPropertyName("reason")] public string? Reason { get; init; }
    [JsonPropertyName("runtime")] public string? Runtime { get; init; }
}

/// <summary>
/// Any answer of a host, read leniently by clients: the success envelope (<c>status</c>, <c>result</c>), the error
/// answer (<c>detail</c>, <c>error</c> as an object), the original's own failed envelope (<c>status: failed</c> with the
/// reason in <c>result.error</c>) and FastAPI's <c>{"detail": ...}</c>. Fields a server did not send stay null.
/// </summary>
public sealed record AnswerBody
{
    [JsonPropertyName(EnvelopeFields.Status)] public JsonElement? Status { get; init; }
    [JsonPropertyName(EnvelopeFields.Result)] public JsonElement? Result { get; init; }
    /// <summary>An <see cref="ErrorDetail"/> object from hosts of ours; a string (or null) from the original.</summary>
    [JsonPropertyName("error")] public JsonElement? Error { get; init; }
    [JsonPropertyName("detail")] public JsonElement? Detail { get; init; }
    /// <summary>Why a host is not ready (<see cref="HealthResponse.Reason"/>).</summary>
    [JsonPropertyName("reason")] public string? Reason { get; init; }
}

/// <summary>Source-generated JSON metadata for every wire type, shared by host and client.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CallRequest))]
[JsonSerializable(typeof(CallEnvelope))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(MethodsResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(AnswerBody))]
[JsonSerializable(typeof(ErrorDetail))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(Dictionary<string, JsonElement>))]
public sealed partial class ProtocolJson : JsonSerializerContext
{
    /// <summary>
    /// The options both sides write with: source-generated, nulls omitted, and text left readable (quotes and
    /// non-ASCII are not escaped as \uXXXX; the body is always served as application/json, never embedded in HTML).
    /// </summary>
    public static ProtocolJson Wire { get; } = new(new JsonSerializerOptions
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
