using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Affinetes.Baseline;

/// <summary>Where the baseline server listens.</summary>
public sealed record BaselineServerOptions
{
    /// <summary>The address to listen on: <c>127.0.0.1</c> by default; <c>0.0.0.0</c> to be reached from containers.</summary>
    public string Bind { get; init; } = "127.0.0.1";

    /// <summary>The port; 0 lets the system pick a free one (see <see cref="BaselineServer.BaseUrl"/>).</summary>
    public int Port { get; init; }

    /// <summary>Receives the server's log (one line per completion at Information); none by default.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}

/// <summary>
/// The baseline behind the OpenAI chat-completions contract: <c>POST /v1/chat/completions</c> answers the last
/// user message with <see cref="BaselineModel.Answer"/> (model <see cref="BaselineModel.Name"/>, whatever model was
/// asked for), <c>GET /v1/models</c> lists it, <c>GET /health</c> says it is up. Any API key is accepted.
/// </summary>
public sealed partial class BaselineServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ILogger _logger;
    private long _completions;

    private BaselineServer(WebApplication app, ILogger logger)
    {
        _app = app;
        _logger = logger;
    }

    /// <summary>The API root to give clients as their base URL, e.g. <c>http://127.0.0.1:41234/v1</c>.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Completions answered so far.</summary>
    public long Completions => Interlocked.Read(ref _completions);

    /// <summary>Starts listening; throws <see cref="IOException"/> (with the address) when the port is taken.</summary>
    public static async Task<BaselineServer> StartAsync(BaselineServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new BaselineServerOptions();
        if (!IPAddress.TryParse(options.Bind, out var address))
        {
            throw new ArgumentException($"bind address '{options.Bind}' is not an IP address; use 127.0.0.1, 0.0.0.0 or ::1", nameof(options));
        }
        if (options.Port is < 0 or > 65535)
        {
            throw new ArgumentException($"port {options.Port} is out of range; use 1 to 65535, or 0 for any free port", nameof(options));
        }
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        // The framework's own log stays silent: a port in use is this method's IOException, not also "Hosting
        // failed to start" on the caller's console (which then moves to another port and works).
        builder.Logging.ClearProviders();
        // Not the console lifetime: the application that starts the server keeps its own Ctrl+C and SIGTERM.
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(address, options.Port);
        });
        var app = builder.Build();
        var server = new BaselineServer(app, (options.LoggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger<BaselineServer>());
        app.MapPost("/v1/chat/completions", server.CompleteAsync);
        app.MapPost("/chat/completions", server.CompleteAsync);
        app.MapGet("/v1/models", Models);
        app.MapGet("/health", () => Results.Text("ok"));
        app.MapFallback((HttpRequest request) => Json(StatusCodes.Status404NotFound,
            Error($"Unknown request URL: {request.Method} {request.Path}; the baseline serves POST /v1/chat/completions", "unknown_url")));
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new IOException($"the baseline cannot listen on {options.Bind}:{options.Port}: {e.Message}; choose another port (0 picks a free one)", e);
        }
        var listening = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        var host = address.Equals(IPAddress.Any) ? "127.0.0.1" : address.Equals(IPAddress.IPv6Any) ? "[::1]" : listening.Host;
        server.BaseUrl = new Uri($"http://{host}:{listening.Port}/v1");
        Log.Listening(server._logger, server.BaseUrl);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task<IResult> CompleteAsync(HttpRequest request)
    {
        JsonNode? body;
        try
        {
            body = await JsonNode.ParseAsync(request.Body, cancellationToken: request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            return Json(StatusCodes.Status400BadRequest, Error($"the body is not JSON: {e.Message}", "invalid_json"));
        }
        if (body?["messages"] is not JsonArray { Count: > 0 } messages)
        {
            return Json(StatusCodes.Status400BadRequest, Error("'messages' must be a non-empty array of {role, content}", "invalid_messages"));
        }
        if (body["stream"] is JsonValue stream && stream.TryGetValue(out bool streaming) && streaming)
        {
            return Json(StatusCodes.Status400BadRequest, Error("the baseline does not stream; send \"stream\": false", "stream_unsupported"));
        }
        var question = messages.LastOrDefault(m => m?["role"]?.GetValue<string>() == "user")?["content"] switch
        {
            JsonValue v when v.TryGetValue(out string? text) => text,
            JsonArray parts => string.Concat(parts.Select(p => p?["text"] is JsonValue t && t.TryGetValue(out string? s) ? s : "")),
            _ => "",
        };
        var answer = BaselineModel.Answer(question);
        var number = Interlocked.Increment(ref _completions);
        // A rough token count (words), enough for a plausible usage block.
        var promptTokens = question.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
        var completionTokens = answer.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
        var completion = new JsonObject
        {
            ["id"] = $"chatcmpl-baseline-{number}",
            ["object"] = "chat.completion",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = BaselineModel.Name,
            ["system_fingerprint"] = BaselineModel.Fingerprint,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = answer },
                ["finish_reason"] = "stop",
            }),
            ["usage"] = new JsonObject
            {
                ["prompt_tokens"] = promptTokens,
                ["completion_tokens"] = completionTokens,
                ["total_tokens"] = promptTokens + completionTokens,
            },
        };
        Log.Completed(_logger, body["model"] is JsonValue m && m.TryGetValue(out string? asked) ? asked : "(none)", answer.Length);
        return Json(StatusCodes.Status200OK, completion);
    }

    private static IResult Models() => Json(StatusCodes.Status200OK, new JsonObject
    {
        ["object"] = "list",
        ["data"] = new JsonArray(new JsonObject
        {
            ["id"] = BaselineModel.Name,
            ["object"] = "model",
            ["created"] = 0,
            ["owned_by"] = "affinetes",
        }),
    });

    /// <summary>OpenAI's error shape.</summary>
    private static JsonObject Error(string message, string code) => new()
    {
        ["error"] = new JsonObject { ["message"] = message, ["type"] = "invalid_request_error", ["param"] = null, ["code"] = code },
    };

    private static IResult Json(int status, JsonObject body) => Results.Content(body.ToJsonString(), "application/json", statusCode: status);

    /// <summary>A host lifetime that leaves process signals alone; the server stops only when disposed.</summary>
    private sealed class NoSignalLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "baseline model listening on {BaseUrl}")]
        public static partial void Listening(ILogger logger, Uri baseUrl);

        [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "completion for model {Model}: {Length} characters")]
        public static partial void Completed(ILogger logger, string model, int length);
    }
}
