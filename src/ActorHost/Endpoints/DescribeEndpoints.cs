using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Affinetes.ActorHost.Hosting;
using Affinetes.ActorHost.Runtimes;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Endpoints;

/// <summary><c>/health</c>, <c>/ready</c>, <c>/methods</c> and <c>/openapi.json</c>. Descriptions are built once.</summary>
internal sealed class DescribeEndpoints(IActorRuntime runtime, Readiness readiness)
{
    private byte[]? _methods;
    private byte[]? _openApi;

    /// <summary>200 only once the actor is constructed (the original answered OK before: a defect).</summary>
    public Task Health(HttpContext context) => WriteStateAsync(context, withReason: false);

    /// <summary>
    /// Like <see cref="Health"/>, with the reason the actor cannot be served; with <c>?wait=SECONDS</c>, a host still
    /// starting answers when that changes (or after SECONDS) instead of at once.
    /// </summary>
    public async Task Ready(HttpContext context)
    {
        if (context.Request.Query.TryGetValue(WireRoutes.ReadyWaitParameter, out var values))
        {
            if (!double.TryParse(values[0], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) || seconds < 0)
            {
                await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, new ErrorDetail
                {
                    Code = ErrorCodes.InvalidArguments,
                    Message = $"{WireRoutes.ReadyWaitParameter}={values[0]}: give seconds to wait for the actor, e.g. '5' or '0.5' (at most {WireRoutes.MaxReadyWaitSeconds:0})",
                    Parameter = WireRoutes.ReadyWaitParameter,
                });
                return;
            }
            if (readiness.IsComing && seconds > 0)
            {
                try
                {
                    await readiness.Settled.WaitAsync(TimeSpan.FromSeconds(Math.Min(seconds, WireRoutes.MaxReadyWaitSeconds)), context.RequestAborted);
                }
                catch (TimeoutException)
                {
                    // still starting: say so
                }
                catch (OperationCanceledException)
                {
                    return; // the client went away
                }
            }
        }
        await WriteStateAsync(context, withReason: true);
    }

    private Task WriteStateAsync(HttpContext context, bool withReason)
    {
        var state = readiness.Current;
        context.Response.StatusCode = state == Readiness.State.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        var body = new HealthResponse
        {
            Status = state switch
            {
                Readiness.State.Ready => "ok",
                Readiness.State.Starting => "starting",
                Readiness.State.Recovering => "restarting",
                Readiness.State.Stopping => "stopping",
                Readiness.State.Unservable => "unhealthy",
                _ => "failed",
            },
            Reason = withReason || state == Readiness.State.Unservable ? readiness.Reason : null,
            Runtime = runtime.Name,
        };
        return context.Response.WriteAsJsonAsync(body, ProtocolJson.Wire.HealthResponse);
    }

    public Task Methods(HttpContext context) => WriteCachedAsync(context, ref _methods, BuildMethods);

    public Task OpenApi(HttpContext context) => WriteCachedAsync(context, ref _openApi, () => runtime.OpenApiDocument ?? BuildOpenApi());

    private Task WriteCachedAsync(HttpContext context, ref byte[]? cache, Func<byte[]> build)
    {
        if (!readiness.IsReady && cache is null)
        {
            return ErrorResponses.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, new ErrorDetail
            {
                Code = ErrorCodes.NotReady,
                Message = readiness.Reason is null ? "the actor is still starting" : $"the actor cannot be served: {readiness.Reason}",
            });
        }
        var bytes = cache ??= build();
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = bytes.Length;
        return context.Response.Body.WriteAsync(bytes).AsTask();
    }

    private byte[] BuildMethods() => JsonSerializer.SerializeToUtf8Bytes(new MethodsResponse
    {
        Methods = runtime.Methods,
        Usage = new Dictionary<string, string>
        {
            ["call"] = "POST /call with {\"method\": NAME, \"args\": [...], \"kwargs\": {...}}",
            ["direct"] = "POST /NAME with the keyword arguments as a JSON object",
            ["timeout"] = $"header {WireHeaders.Timeout}: SECONDS sets a server-side deadline; the call is cancelled past it",
        },
    }, ProtocolJson.Wire.MethodsResponse);

    /// <summary>An OpenAPI 3.0 document: one operation per method, its parameters as a JSON schema.</summary>
    private byte[] BuildOpenApi()
    {
        var paths = new JsonObject();
        foreach (var method in runtime.Methods)
        {
            var properties = new JsonObject();
            var required = new JsonArray();
            foreach (var p in method.Parameters.Where(p => p.Kind is not ("var_positional" or "var_keyword")))
            {
                var schema = new JsonObject();
                if (p.Type is not null)
                {
                    schema["type"] = p.Type;
                }
                if (p.Nullable)
                {
                    schema["nullable"] = true;
                }
                if (p.Default is { } value)
                {
                    schema["default"] = JsonNode.Parse(value.GetRawText());
                }
                properties[p.Name] = schema;
                if (p.Required)
                {
                    required.Add((JsonNode)p.Name);
                }
            }
            var body = new JsonObject
            {
                ["type"] = "object",
                ["properties"] = properties,
                ["additionalProperties"] = method.Parameters.Any(p => p.Kind == "var_keyword"),
            };
            if (required.Count > 0)
            {
                body["required"] = required;
            }
            paths[WireRoutes.ForMethod(method.Name)] = new JsonObject
            {
                ["post"] = new JsonObject
                {
                    ["operationId"] = method.Name,
                    ["summary"] = method.Name + method.Signature,
                    ["description"] = method.Description,
                    ["requestBody"] = new JsonObject
                    {
                        ["required"] = required.Count > 0,
                        ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = body } },
                    },
                    ["responses"] = new JsonObject
                    {
                        ["200"] = new JsonObject { ["description"] = "{\"status\": \"success\", \"result\": ..., \"error\": null}" },
                        ["400"] = new JsonObject { ["description"] = "invalid JSON or arguments" },
                        ["500"] = new JsonObject { ["description"] = "the actor raised" },
                        ["504"] = new JsonObject { ["description"] = "deadline exceeded; the call was cancelled" },
                    },
                },
            };
        }
        var document = new JsonObject
        {
            ["openapi"] = "3.0.3",
            ["info"] = new JsonObject { ["title"] = "Affinetes actor", ["version"] = HostInfo.Version },
            ["paths"] = paths,
        };
        return JsonSerializer.SerializeToUtf8Bytes(document, JsonNodeContext.Relaxed.JsonObject);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonObject))]
internal sealed partial class JsonNodeContext : System.Text.Json.Serialization.JsonSerializerContext
{
    public static JsonNodeContext Relaxed { get; } = new(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
