using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Affinetes.Testing.Subtensor;

/// <summary>
/// A Substrate JSON-RPC node for tests on 127.0.0.1, over HTTP POST and a websocket on the same port: it serves
/// <see cref="Blocks"/> (headers, runtime versions, metadata, storage) the way a subtensor node answers the methods a
/// storage reader uses (<c>chain_getFinalizedHead</c>, <c>chain_getHead</c>, <c>chain_getBlockHash</c>,
/// <c>chain_getHeader</c>, <c>state_getRuntimeVersion</c>, <c>state_getMetadata</c>, <c>state_queryStorageAt</c>,
/// <c>state_getStorage</c>/<c>state_getStorageAt</c>); any other method is JSON-RPC's "method not found". Every request
/// is counted in <see cref="Requests"/>.
/// </summary>
public sealed class SubtensorRpcServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<string> _requests = new();
    private int _disposed;

    private SubtensorRpcServer(WebApplication app) => _app = app;

    /// <summary>The chain; the finalized head is <see cref="FinalizedHead"/>.</summary>
    public List<SubtensorBlock> Blocks { get; } = [];

    /// <summary>The hash <c>chain_getFinalizedHead</c> and <c>chain_getHead</c> answer; default the last block's.</summary>
    public string? FinalizedHead { get; set; }

    /// <summary>False makes <c>state_queryStorageAt</c> "method not found", as on nodes without it.</summary>
    public bool SupportsQueryStorageAt { get; set; } = true;

    /// <summary>Answers this method with this JSON-RPC error instead (code, message).</summary>
    public (string Method, int Code, string Message)? Failure { get; set; }

    /// <summary>Waits this long before answering this method (to test request timeouts).</summary>
    public (string Method, TimeSpan Delay)? Slow { get; set; }

    /// <summary>Called with each method before it is answered (to change the chain mid-read).</summary>
    public Action<string>? OnRequest { get; set; }

    /// <summary>The methods asked so far, in order.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    public Uri HttpUrl { get; private set; } = null!;

    public Uri WebSocketUrl { get; private set; } = null!;

    public void ClearRequests() => _requests.Clear();

    public static async Task<SubtensorRpcServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, 0);
        });
        var app = builder.Build();
        var server = new SubtensorRpcServer(app);
        app.UseWebSockets();
        app.Map("/", server.ServeAsync);
        await app.StartAsync();
        var address = new Uri(app.Urls.First());
        server.HttpUrl = new Uri($"http://127.0.0.1:{address.Port}/");
        server.WebSocketUrl = new Uri($"ws://127.0.0.1:{address.Port}/");
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task ServeAsync(HttpContext context)
    {
        if (context.WebSockets.IsWebSocketRequest)
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            await ServeSocketAsync(socket, context.RequestAborted);
            return;
        }
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        var answer = await AnswerAsync(body.ToArray(), context.RequestAborted);
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(answer, context.RequestAborted);
    }

    private async Task ServeSocketAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 << 10];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer, cancellationToken);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", cancellationToken);
                        return;
                    }
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);
                var answer = await AnswerAsync(message.ToArray(), cancellationToken);
                await socket.SendAsync(answer, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The client went away.
        }
    }

    private async Task<byte[]> AnswerAsync(byte[] request, CancellationToken cancellationToken)
    {
        JsonNode? id = null;
        JsonObject answer;
        try
        {
            var call = JsonNode.Parse(request)!.AsObject();
            id = call["id"]?.DeepClone();
            var method = (string)call["method"]!;
            var parameters = call["params"] as JsonArray ?? [];
            _requests.Enqueue(method);
            OnRequest?.Invoke(method);
            if (Slow is { } slow && slow.Method == method)
            {
                await Task.Delay(slow.Delay, cancellationToken);
            }
            answer = Failure is { } failure && failure.Method == method
                ? Error(failure.Code, failure.Message)
                : Handle(method, parameters);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            answer = Error(-32700, $"Parse error: {e.Message}");
        }
        answer["jsonrpc"] = "2.0";
        answer["id"] = id;
        return Encoding.UTF8.GetBytes(answer.ToJsonString());
    }

    private JsonObject Handle(string method, JsonArray parameters)
    {
        switch (method)
        {
            case "chain_getFinalizedHead" or "chain_getHead":
                return Result(Head().Hash);
            case "chain_getBlockHash":
                return Result(parameters.Count == 0 || parameters[0] is null
                    ? Head().Hash
                    : Blocks.FirstOrDefault(b => b.Number == (long)parameters[0]!)?.Hash);
            case "chain_getHeader":
                return Result(At(parameters, 0) is { } block
                    ? new JsonObject
                    {
                        ["parentHash"] = block.ParentHash,
                        ["number"] = "0x" + block.Number.ToString("x", CultureInfo.InvariantCulture),
                        ["stateRoot"] = block.Hash,
                        ["extrinsicsRoot"] = block.Hash,
                        ["digest"] = new JsonObject { ["logs"] = new JsonArray() },
                    }
                    : null);
            case "state_getRuntimeVersion":
                return At(parameters, 0) is { } versioned
                    ? Result(new JsonObject
                    {
                        ["specName"] = versioned.SpecName,
                        ["implName"] = versioned.SpecName,
                        ["authoringVersion"] = 1,
                        ["specVersion"] = versioned.SpecVersion,
                        ["implVersion"] = 1,
                        ["apis"] = new JsonArray(),
                        ["transactionVersion"] = 1,
                        ["stateVersion"] = 1,
                    })
                    : UnknownBlock();
            case "state_getMetadata":
                return At(parameters, 0) is { } described ? Result(described.MetadataHex) : UnknownBlock();
            case "state_queryStorageAt" when SupportsQueryStorageAt:
                if (At(parameters, 1) is not { } queried)
                {
                    return UnknownBlock();
                }
                var changes = new JsonArray();
                foreach (var key in parameters[0]!.AsArray())
                {
                    var k = (string)key!;
                    changes.Add(new JsonArray(k, queried.Storage.TryGetValue(k, out var v) ? v : null));
                }
                return Result(new JsonArray(new JsonObject { ["block"] = queried.Hash, ["changes"] = changes }));
            case "state_getStorage" or "state_getStorageAt":
                return At(parameters, 1) is { } stored
                    ? Result(stored.Storage.TryGetValue((string)parameters[0]!, out var value) ? value : null)
                    : UnknownBlock();
            default:
                return Error(-32601, "Method not found");
        }
    }

    private SubtensorBlock Head() =>
        FinalizedHead is { } hash ? Blocks.First(b => b.Hash.Equals(hash, StringComparison.OrdinalIgnoreCase)) : Blocks[^1];

    /// <summary>The block named by the hash at <paramref name="index"/>; the head when the parameter is absent or null.</summary>
    private SubtensorBlock? At(JsonArray parameters, int index) =>
        parameters.Count <= index || parameters[index] is null
            ? Head()
            : Blocks.FirstOrDefault(b => b.Hash.Equals((string)parameters[index]!, StringComparison.OrdinalIgnoreCase));

    private static JsonObject Result(JsonNode? result) => new() { ["result"] = result };

    private static JsonObject Result(string? result) => new() { ["result"] = result };

    private static JsonObject UnknownBlock() => Error(4003, "Client error: UnknownBlock: State already discarded for the block");

    private static JsonObject Error(int code, string message) => new() { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } };
}
