using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Affinetes.Testing;

/// <summary>One message of a chat-completions request.</summary>
/// <param name="Role">"system", "user", "assistant" ...</param>
/// <param name="Content">The text; content parts are joined, a missing content is empty.</param>
public sealed record ChatMessage(string Role, string Content);

/// <summary>A chat-completions request as the <see cref="LocalLlmServer"/> received it.</summary>
/// <param name="Model">The requested model name.</param>
/// <param name="Messages">The conversation, in order.</param>
/// <param name="Authorization">The <c>Authorization</c> header value, e.g. <c>Bearer key</c>; null when absent.</param>
/// <param name="Body">The raw JSON body, for assertions on other fields (temperature ...).</param>
public sealed record ChatRequest(string Model, IReadOnlyList<ChatMessage> Messages, string? Authorization, string Body)
{
    /// <summary>Content of the last <c>user</c> message, or empty.</summary>
    public string LastUserMessage => Messages.LastOrDefault(m => m.Role == "user")?.Content ?? "";
}

/// <summary>What the <see cref="LocalLlmServer"/> answers to one request.</summary>
/// <param name="Content">The assistant message's text (used when <see cref="StatusCode"/> is 200).</param>
public sealed record LlmReply(string Content)
{
    /// <summary>HTTP status; anything but 200 answers <see cref="ErrorBody"/> instead of a completion.</summary>
    public int StatusCode { get; init; } = StatusCodes.Status200OK;

    /// <summary>Body of an error answer; null gives OpenAI's error shape with <see cref="Content"/> as the message.</summary>
    public string? ErrorBody { get; init; }

    /// <summary>Wait this long before answering (to test client timeouts).</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>Answer only once this task completes (to hold requests in flight without timing).</summary>
    public Task? Hold { get; init; }

    /// <summary>For a streamed answer: send the first chunk, then the rest only once this task completes.</summary>
    public Task? HoldAfterFirstChunk { get; init; }

    /// <summary>The <c>usage</c> to report; by default words of the prompt and of the answer.</summary>
    public (int Prompt, int Completion)? Usage { get; init; }

    /// <summary>For a streamed answer: put <c>usage</c> in every chunk (cumulative, as vLLM's continuous usage stats do).</summary>
    public bool UsageInEveryChunk { get; init; }

    /// <summary>Extra response headers.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>The assistant's reasoning (<c>reasoning_content</c>, as o1-style models send it); none when null.</summary>
    public string? Reasoning { get; init; }

    /// <summary>A streamed answer waits this long before each chunk after the first (to test chunk timeouts).</summary>
    public TimeSpan ChunkDelay { get; init; }

    /// <summary>A successful completion with <paramref name="content"/> as the assistant's text.</summary>
    public static LlmReply Text(string content) => new(content);

    /// <summary>An error answer in OpenAI's shape <c>{"error":{"message","type","param","code"}}</c>.</summary>
    public static LlmReply Error(int statusCode, string message, string type = "server_error", string? code = null) =>
        new(message) { StatusCode = statusCode, ErrorBody = LocalLlmServer.ErrorJson(message, type, code) };
}

/// <summary>
/// A small OpenAI-compatible chat-completions server on 127.0.0.1 for tests: <c>POST /v1/chat/completions</c> (JSON,
/// or an SSE stream of chunks when the request says <c>"stream": true</c>, with the usage chunk when it asks
/// <c>stream_options.include_usage</c>) and <c>GET /v1/models</c>. A responder decides each answer; every well-formed
/// request is recorded in <see cref="Requests"/>, every reported usage in <see cref="ReportedTokens"/>.
/// </summary>
public sealed class LocalLlmServer : IAsyncDisposable
{
    /// <summary>The model listed by <c>GET /v1/models</c> before any request names another.</summary>
    public const string DefaultModel = "local-test-model";

    private static readonly LlmReply DontKnow = LlmReply.Text("I don't know");
    /// <summary>Writes "don't" rather than "don\u0027t", as OpenAI does.</summary>
    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly WebApplication _app;
    private readonly Func<ChatRequest, LlmReply> _responder;
    private readonly List<ChatRequest> _requests = [];
    private readonly List<string> _completionRequests = [];
    private readonly Lock _gate = new();
    private long _nextId;
    private long _reportedPrompt;
    private long _reportedCompletion;
    private int _finished;
    private int _disposed;

    private LocalLlmServer(WebApplication app, Func<ChatRequest, LlmReply> responder)
    {
        _app = app;
        _responder = responder;
    }

    /// <summary>Base URL of the API, e.g. <c>http://127.0.0.1:41234/v1</c> (no trailing slash).</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Snapshot of the chat requests received so far, oldest first.</summary>
    public IReadOnlyList<ChatRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Prompt and completion tokens of every <c>usage</c> this server has sent so far.</summary>
    public (long Prompt, long Completion) ReportedTokens => (Interlocked.Read(ref _reportedPrompt), Interlocked.Read(ref _reportedCompletion));

    /// <summary>Chat answers completely written so far (a stream counts once its last byte is sent).</summary>
    public int Finished => Volatile.Read(ref _finished);

    /// <summary>Starts a server on a free port of 127.0.0.1.</summary>
    /// <param name="responder">Decides each answer; by default every question gets "I don't know".</param>
    public static async Task<LocalLlmServer> StartAsync(Func<ChatRequest, LlmReply>? responder = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        // Not the console lifetime: it would take over Ctrl+C and SIGTERM of the whole test process.
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, 0);
        });
        var app = builder.Build();
        var server = new LocalLlmServer(app, responder ?? (_ => DontKnow));
        app.MapPost("/v1/chat/completions", server.CompleteAsync);
        app.MapPost("/v1/completions", server.CompleteTextAsync);
        app.MapGet("/v1/models", server.Models);
        app.MapFallback(context => WriteAsync(context, StatusCodes.Status404NotFound,
            ErrorJson($"Unknown request URL: {context.Request.Method} {context.Request.Path}", "invalid_request_error", "unknown_url")));
        await app.StartAsync();
        var address = app.Urls.First(); // the real port, now that Kestrel is listening
        server.BaseUrl = new Uri(address.TrimEnd('/') + "/v1");
        return server;
    }

    /// <summary>Bodies of the <c>POST /v1/completions</c> requests received so far, oldest first.</summary>
    public IReadOnlyList<string> CompletionRequests
    {
        get
        {
            lock (_gate)
            {
                return [.. _completionRequests];
            }
        }
    }

    /// <summary>The status <c>POST /v1/completions</c> answers with (200: the echo below; else an OpenAI error body).</summary>
    public int CompletionsStatus { get; set; } = StatusCodes.Status200OK;

    /// <summary>
    /// <c>POST /v1/completions</c> as vLLM answers <c>echo: true, logprobs: N</c>: the prompt cut into tokens of at
    /// most four characters, each with its <c>text_offset</c> and a top-N mapping (the token at -0.25 and <c>"~"</c>
    /// at -1.5), none for the first token, as real endpoints give none there.
    /// </summary>
    private async Task CompleteTextAsync(HttpContext context)
    {
        string body;
        using (var reader = new StreamReader(context.Request.Body))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }
        lock (_gate)
        {
            _completionRequests.Add(body);
        }
        if (CompletionsStatus != StatusCodes.Status200OK)
        {
            await WriteAsync(context, CompletionsStatus, ErrorJson("completions are not served here", "invalid_request_error", null));
            return;
        }
        var prompt = JsonNode.Parse(body)?["prompt"]?.GetValue<string>() ?? "";
        var tokens = new JsonArray();
        var offsets = new JsonArray();
        var top = new JsonArray();
        for (var at = 0; at < prompt.Length; at += 4)
        {
            var token = prompt.Substring(at, Math.Min(4, prompt.Length - at));
            tokens.Add(token);
            offsets.Add(at);
            top.Add(at == 0 ? null : new JsonObject { [token] = -0.25, ["~"] = -1.5 });
        }
        var answer = new JsonObject
        {
            ["id"] = "cmpl-echo",
            ["object"] = "text_completion",
            ["model"] = DefaultModel,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["text"] = prompt + "!",
                ["logprobs"] = new JsonObject { ["tokens"] = tokens, ["text_offset"] = offsets, ["top_logprobs"] = top },
                ["finish_reason"] = "length",
            }),
        };
        await WriteAsync(context, StatusCodes.Status200OK, answer.ToJsonString(Json));
    }

    /// <summary>Stops the server (once; later calls do nothing).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>OpenAI's error body: <c>{"error":{"message","type","param":null,"code"}}</c>.</summary>
    internal static string ErrorJson(string message, string type, string? code) => new JsonObject
    {
        ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = null, ["code"] = code },
    }.ToJsonString(Json);

    private async Task CompleteAsync(HttpContext context)
    {
        string body;
        using (var reader = new StreamReader(context.Request.Body))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }
        if (Parse(body, context.Request.Headers.Authorization.FirstOrDefault(), out var problem) is not { } request)
        {
            await WriteAsync(context, StatusCodes.Status400BadRequest, ErrorJson(problem, "invalid_request_error", null));
            return;
        }
        lock (_gate)
        {
            _requests.Add(request);
        }

        LlmReply reply;
        try
        {
            reply = _responder(request);
        }
        catch (Exception e)
        {
            await WriteAsync(context, StatusCodes.Status500InternalServerError, ErrorJson($"responder failed: {e.Message}", "server_error", null));
            return;
        }
        try
        {
            if (reply.Delay > TimeSpan.Zero)
            {
                await Task.Delay(reply.Delay, context.RequestAborted);
            }
            if (reply.Hold is { } hold)
            {
                await hold.WaitAsync(context.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
            return; // the client gave up
        }
        foreach (var (name, value) in reply.Headers ?? new Dictionary<string, string>())
        {
            context.Response.Headers[name] = value;
        }
        if (reply.StatusCode != StatusCodes.Status200OK)
        {
            await WriteAsync(context, reply.StatusCode, reply.ErrorBody ?? ErrorJson(reply.Content, "server_error", null));
            Interlocked.Increment(ref _finished);
            return;
        }

        var (promptTokens, completionTokens) = reply.Usage ?? (request.Messages.Sum(m => CountTokens(m.Content)), CountTokens(reply.Content));
        if (JsonNode.Parse(request.Body)?["stream"] is JsonValue stream && stream.TryGetValue(out bool streamed) && streamed)
        {
            await StreamAsync(context, request, reply, promptTokens, completionTokens);
            return;
        }
        Interlocked.Add(ref _reportedPrompt, promptTokens);
        Interlocked.Add(ref _reportedCompletion, completionTokens);
        var completion = new JsonObject
        {
            ["id"] = $"chatcmpl-local-{Interlocked.Increment(ref _nextId)}",
            ["object"] = "chat.completion",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = request.Model,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = Message(reply),
                ["finish_reason"] = "stop",
            }),
            ["usage"] = UsageJson(promptTokens, completionTokens),
        };
        await WriteAsync(context, StatusCodes.Status200OK, completion.ToJsonString(Json));
        Interlocked.Increment(ref _finished);
    }

    /// <summary>
    /// An SSE stream as OpenAI sends it: a role chunk, the reasoning then the content a word at a time (after
    /// <see cref="LlmReply.ChunkDelay"/> each), a finish chunk, the usage-only chunk
    /// (<c>"choices": []</c>) when the request asked for it, then <c>data: [DONE]</c>.
    /// </summary>
    private async Task StreamAsync(HttpContext context, ChatRequest request, LlmReply reply, int promptTokens, int completionTokens)
    {
        var includeUsage = JsonNode.Parse(request.Body)?["stream_options"]?["include_usage"] is JsonValue include && include.TryGetValue(out bool asked) && asked;
        var id = $"chatcmpl-local-{Interlocked.Increment(ref _nextId)}";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var words = reply.Content.Split(' ');
        JsonObject Chunk(JsonObject? delta, string? finish, int sent)
        {
            var chunk = new JsonObject
            {
                ["id"] = id,
                ["object"] = "chat.completion.chunk",
                ["created"] = created,
                ["model"] = request.Model,
                ["choices"] = delta is null ? new JsonArray() : new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish }),
            };
            if (reply.UsageInEveryChunk)
            {
                chunk["usage"] = UsageJson(promptTokens, sent);
            }
            return chunk;
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var cancel = context.RequestAborted;
        var sent = 0;
        try
        {
            await SendAsync(Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "" }, null, 0));
            if (reply.HoldAfterFirstChunk is { } hold)
            {
                await hold.WaitAsync(cancel);
            }
            var reasoning = reply.Reasoning?.Split(' ') ?? [];
            for (var i = 0; i < reasoning.Length; i++)
            {
                await SendAsync(Chunk(new JsonObject { ["reasoning_content"] = i == 0 ? reasoning[i] : " " + reasoning[i] }, null, 0));
            }
            for (var i = 0; i < words.Length; i++)
            {
                await SendAsync(Chunk(new JsonObject { ["content"] = i == 0 ? words[i] : " " + words[i] }, null, i + 1));
            }
            await SendAsync(Chunk(new JsonObject(), "stop", completionTokens));
            if (includeUsage || reply.UsageInEveryChunk)
            {
                var usage = Chunk(null, null, completionTokens);
                usage["usage"] = UsageJson(promptTokens, completionTokens);
                await SendAsync(usage);
                Interlocked.Add(ref _reportedPrompt, promptTokens);
                Interlocked.Add(ref _reportedCompletion, completionTokens);
            }
            await context.Response.WriteAsync("data: [DONE]\n\n", cancel);
            await context.Response.Body.FlushAsync(cancel);
            Interlocked.Increment(ref _finished);
        }
        catch (OperationCanceledException)
        {
            // the client went away mid-stream
        }

        async Task SendAsync(JsonObject chunk)
        {
            if (sent++ > 0 && reply.ChunkDelay > TimeSpan.Zero)
            {
                await Task.Delay(reply.ChunkDelay, cancel);
            }
            await context.Response.WriteAsync("data: " + chunk.ToJsonString(Json) + "\n\n", cancel);
            await context.Response.Body.FlushAsync(cancel);
        }
    }

    private static JsonObject Message(LlmReply reply)
    {
        var message = new JsonObject { ["role"] = "assistant", ["content"] = reply.Content };
        if (reply.Reasoning is not null)
        {
            message["reasoning_content"] = reply.Reasoning;
        }
        return message;
    }

    private static JsonObject UsageJson(int prompt, int completion) => new()
    {
        ["prompt_tokens"] = prompt,
        ["completion_tokens"] = completion,
        ["total_tokens"] = prompt + completion,
    };

    private Task Models(HttpContext context)
    {
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var models = new JsonArray();
        foreach (var id in Requests.Select(r => r.Model).Prepend(DefaultModel).Distinct())
        {
            models.Add(new JsonObject { ["id"] = id, ["object"] = "model", ["created"] = created, ["owned_by"] = "affinetes-testing" });
        }
        return WriteAsync(context, StatusCodes.Status200OK, new JsonObject { ["object"] = "list", ["data"] = models }.ToJsonString(Json));
    }

    /// <summary>The request, or null and what is wrong when the body is not one OpenAI would accept.</summary>
    private static ChatRequest? Parse(string body, string? authorization, out string problem)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            problem = $"We could not parse the JSON body of your request. ({e.Message})";
            return null;
        }
        if (root is not JsonObject request)
        {
            problem = "The request body must be a JSON object.";
            return null;
        }
        if (request["model"] is not JsonValue model || !model.TryGetValue(out string? modelName))
        {
            problem = "you must provide a model parameter";
            return null;
        }
        if (request["messages"] is not JsonArray { Count: > 0 } messages)
        {
            problem = "'messages' must be a non-empty array";
            return null;
        }
        var parsed = new List<ChatMessage>();
        foreach (var message in messages)
        {
            if (message is not JsonObject m || m["role"] is not JsonValue role || !role.TryGetValue(out string? roleName))
            {
                problem = "every message must be an object with a string 'role'";
                return null;
            }
            parsed.Add(new ChatMessage(roleName, ContentText(m["content"])));
        }
        problem = "";
        return new ChatRequest(modelName, parsed, authorization, body);
    }

    /// <summary>A string content as is; an array of parts as the concatenation of their <c>text</c>.</summary>
    private static string ContentText(JsonNode? content) => content switch
    {
        JsonValue v when v.TryGetValue(out string? text) => text,
        JsonArray parts => string.Concat(parts.Select(p => p?["text"] is JsonValue t && t.TryGetValue(out string? s) ? s : "")),
        _ => "",
    };

    /// <summary>A rough token count (words), enough for a plausible <c>usage</c> block.</summary>
    private static int CountTokens(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    private static async Task WriteAsync(HttpContext context, int statusCode, string json)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json, context.RequestAborted);
    }
}

/// <summary>A host lifetime that leaves process signals alone: test servers stop only on dispose, never on the test process's Ctrl+C.</summary>
internal sealed class NoSignalLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
