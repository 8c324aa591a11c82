using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Runtimes.Sidecar;

/// <summary>
/// The method table of a sidecar: every <c>POST /{name}</c> operation of its OpenAPI document (FastAPI writes one),
/// its parameters read from the JSON request body's schema; or, without a document, the declared names.
/// </summary>
internal static class SidecarMethods
{
    public static IReadOnlyList<MethodDescriptor> FromOpenApi(JsonNode document)
    {
        var methods = new List<MethodDescriptor>();
        if (document["paths"] is not JsonObject paths)
        {
            return methods;
        }
        foreach (var (path, item) in paths)
        {
            var name = path.TrimStart('/');
            if (name.Length == 0 || name.Contains('/', StringComparison.Ordinal) || name.Contains('{', StringComparison.Ordinal)
                || item?["post"] is not JsonObject operation || name is "call" or "methods" or "health" or "ready" or "openapi.json")
            {
                continue;
            }
            var schema = Resolve(document, operation["requestBody"]?["content"]?["application/json"]?["schema"]);
            var required = (schema?["required"] as JsonArray)?.Select(r => r?.GetValue<string>()).ToHashSet() ?? [];
            var parameters = new List<ParameterDescriptor>();
            if (schema?["properties"] is JsonObject properties)
            {
                foreach (var (parameter, definition) in properties)
                {
                    var resolved = Resolve(document, definition);
                    parameters.Add(new ParameterDescriptor
                    {
                        Name = parameter,
                        Type = TypeOf(document, resolved),
                        Required = required.Contains(parameter),
                        Default = resolved?["default"] is { } value ? JsonSerializer.SerializeToElement(value, SidecarJson.Default.JsonNode) : null,
                    });
                }
            }
            var additional = schema is null || schema["additionalProperties"] is JsonValue v && v.GetValueKind() == JsonValueKind.True;
            if (additional)
            {
                parameters.Add(new ParameterDescriptor { Name = "kwargs", Kind = "var_keyword" });
            }
            methods.Add(new MethodDescriptor
            {
                Name = name,
                Signature = Signature(parameters),
                Endpoint = $"POST {WireRoutes.ForMethod(name)}",
                IsAsync = true,
                Description = (operation["description"] ?? operation["summary"])?.GetValue<string>(),
                Parameters = parameters,
            });
        }
        return [.. methods.OrderBy(m => m.Name, StringComparer.Ordinal)];
    }

    public static IReadOnlyList<MethodDescriptor> Declared(IEnumerable<string> names) =>
    [
        .. names.Order(StringComparer.Ordinal).Select(name => new MethodDescriptor
        {
            Name = name,
            Signature = "(**kwargs)",
            Endpoint = $"POST {WireRoutes.ForMethod(name)}",
            IsAsync = true,
            Parameters = [new ParameterDescriptor { Name = "kwargs", Kind = "var_keyword" }],
        }),
    ];

    private static JsonNode? Resolve(JsonNode document, JsonNode? node)
    {
        for (var depth = 0; depth < 16 && node?["$ref"] is JsonValue reference; depth++)
        {
            var target = document;
            foreach (var part in reference.GetValue<string>().TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                target = target?[part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)];
            }
            node = target;
        }
        return node;
    }

    /// <summary><c>{"type": "integer"}</c>, or FastAPI's <c>anyOf [{"type": "integer"}, {"type": "null"}]</c> for Optional.</summary>
    private static string? TypeOf(JsonNode document, JsonNode? schema)
    {
        if (schema?["type"] is JsonValue type && type.GetValueKind() == JsonValueKind.String)
        {
            return type.GetValue<string>();
        }
        var options = (schema?["anyOf"] ?? schema?["oneOf"]) as JsonArray;
        var kinds = options?.Select(o => TypeOf(document, Resolve(document, o))).Where(t => t is not null and not "null").Distinct().ToList();
        return kinds is { Count: 1 } ? kinds[0] : null;
    }

    private static string Signature(List<ParameterDescriptor> parameters)
    {
        var text = new StringBuilder("(");
        text.AppendJoin(", ", parameters.Select(p => p.Kind == "var_keyword" ? "**kwargs"
            : $"{p.Name}{(p.Type is null ? "" : ": " + p.Type)}{(p.Default is { } d ? " = " + d.GetRawText() : "")}"));
        return text.Append(')').ToString();
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonNode))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class SidecarJson : System.Text.Json.Serialization.JsonSerializerContext;
