using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using Affinetes.LlmGateway.Tenants;
using Affinetes.LlmGateway.Hosting;
using Affinetes.LlmGateway.Transcripts;
using Affinetes.Protocol;
using Yarp.ReverseProxy.Forwarder;

namespace Affinetes.LlmGateway.Proxy;

/// <summary>
/// The OpenAI-compatible API: <c>/v1/...</c> and <c>/tasks/{task}/v1/...</c>. Finds the environment by its token,
/// applies its policy (models, limits, budget), forwards through YARP with the real key, counts the usage and, for a
/// request of a task whose environment records exchanges, keeps the exchange for the task's transcript.
/// </summary>
internal sealed partial class ProxyEndpoint : IDisposable
{
    private readonly GatewayOptions _options;
    private readonly ITenantRegistry _registry;
    private readonly IHttpForwarder _forwarder;
    private readonly ILogger<ProxyEndpoint> _logger;
    private readonly HttpMessageInvoker _upstream;
    private readonly ForwarderRequestConfig _requestConfig;
    private readonly string _upstreamPrefix;

    public ProxyEndpoint(GatewayOptions options, ITenantRegistry registry, IHttpForwarder forwarder, ILogger<ProxyEndpoint> logger)
    {
        _options = options;
        _registry = registry;
        _forwarder = forwarder;
        _logger = logger;
        _upstreamPrefix = options.Upstream.GetLeftPart(UriPartial.Path).TrimEnd('/');
        _upstream = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ActivityHeadersPropagator = null,
            ConnectTimeout = TimeSpan.FromSeconds(15),
        });
        _requestConfig = new ForwarderRequestConfig { ActivityTimeout = options.UpstreamTimeout };
    }

    public async Task HandleAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var request = context.Request;
        var cancellationToken = context.RequestAborted;
        if (!TrySplitPath(request.Path.Value ?? "", out var task, out var apiPath))
        {
            await Unknown(request).WriteAsync(context.Response, cancellationToken);
            return;
        }
        if (BearerToken(request) is not { } token || _registry.FindByToken(token) is not { } environment)
        {
            LogUnknownToken(request.Method, request.Path.Value);
            await new OpenAiError(StatusCodes.Status401Unauthorized, GatewayErrorCodes.InvalidApiKey, "invalid_request_error",
                "Incorrect API key provided. Use the token this environment was given (Authorization: Bearer TOKEN).").WriteAsync(context.Response, cancellationToken);
            return;
        }
        if (task is null && request.Headers.TryGetValue(GatewayHeaders.Task, out var header))
        {
            task = header.ToString();
        }
        if (task is not null && !GatewayRoutes.IsValidTaskId(task))
        {
            await RejectAsync(context, environment, new OpenAiError(StatusCodes.Status400BadRequest, GatewayErrorCodes.InvalidTaskId, "invalid_request_error",
                $"The task id must be 1 to {GatewayRoutes.MaxTaskIdLength} letters, digits, '.', '_', '-' or ':'."));
            return;
        }
        if (ApiRequest.Match(request.Method, apiPath, out var modelId) is not { } endpoint)
        {
            await RejectAsync(context, environment, new Refusal(task, apiPath, started), Unknown(request));
            return;
        }
        if (endpoint == ApiEndpoint.GetModel && !environment.AllowsModel(modelId))
        {
            await RejectAsync(context, environment, new Refusal(task, apiPath, started), new OpenAiError(StatusCodes.Status403Forbidden, GatewayErrorCodes.ModelNotAllowed, "invalid_request_error",
                $"The model `{modelId}` is not allowed for this environment.", "model"));
            return;
        }
        if (environment.BudgetExhausted)
        {
            await RejectAsync(context, environment, new Refusal(task, apiPath, started), new OpenAiError(StatusCodes.Status429TooManyRequests, GatewayErrorCodes.BudgetExhausted, "insufficient_quota",
                $"This environment has used its budget of {environment.Policy.BudgetTokens} tokens."));
            return;
        }
        using var slot = environment.TryEnter();
        if (slot is null)
        {
            await RejectAsync(context, environment, new Refusal(task, apiPath, started), new OpenAiError(StatusCodes.Status429TooManyRequests, GatewayErrorCodes.ConcurrencyLimitExceeded, "requests",
                $"This environment may have {environment.Policy.MaxConcurrency} requests in flight at once; retry when one has finished.") { RetryAfter = TimeSpan.FromSeconds(1) });
            return;
        }
        if (!environment.TryTakeRequest(out var retryAfter))
        {
            await RejectAsync(context, environment, new Refusal(task, apiPath, started), new OpenAiError(StatusCodes.Status429TooManyRequests, GatewayErrorCodes.RateLimitExceeded, "requests",
                $"Rate limit reached: this environment may make {environment.Policy.RequestsPerMinute} requests per minute.") { RetryAfter = retryAfter });
            return;
        }

        var recorder = task is null ? null : environment.Transcripts;
        var draft = recorder is null ? null : new ExchangeDraft { StartedAt = DateTimeOffset.UtcNow, Endpoint = apiPath.Trim('/') };
        var exchange = new Exchange(expectsUsage: false, usageAdded: false) { Reply = draft is null ? null : new ReplyAssembler() };
        if (HttpMethods.IsPost(request.Method))
        {
            var (body, tooLarge) = await ReadBodyAsync(request, cancellationToken);
            if (tooLarge)
            {
                await RejectAsync(context, environment, new Refusal(task, apiPath, started), new OpenAiError(StatusCodes.Status413PayloadTooLarge, GatewayErrorCodes.PayloadTooLarge, "invalid_request_error",
                    $"The request body is over the gateway's limit of {_options.MaxBodyBytes} bytes."));
                return;
            }
            if (ApiRequest.Inspect(body, endpoint, environment.Policy.MaxTokensPerRequest, environment.AllowsModel, out var error) is not { } inspected)
            {
                await RejectAsync(context, environment, new Refusal(task, apiPath, started), error!);
                return;
            }
            exchange = new Exchange(expectsUsage: true, inspected.UsageAdded) { Reply = exchange.Reply };
            if (draft is not null)
            {
                (draft.Model, draft.Stream, draft.Messages) = (inspected.Model, inspected.Stream, RequestMessages.Read(body, endpoint));
            }
            ReplaceBody(request, inspected.Body);
        }

        var destination = new Uri(_upstreamPrefix + apiPath + request.QueryString.Value);
        var failure = await _forwarder.SendAsync(context, _upstreamPrefix, _upstream, _requestConfig,
            new UpstreamTransformer(destination, _options.UpstreamKey, exchange), cancellationToken);
        if (failure != ForwarderError.None)
        {
            var reason = context.Features.Get<IForwarderErrorFeature>()?.Exception?.Message;
            LogUpstreamFailure(environment.Name, request.Method, apiPath, failure, reason);
            if (!context.Response.HasStarted && failure != ForwarderError.RequestCanceled)
            {
                var timedOut = failure == ForwarderError.RequestTimedOut;
                context.Response.Clear();
                await new OpenAiError(timedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway,
                    timedOut ? GatewayErrorCodes.UpstreamTimeout : GatewayErrorCodes.UpstreamUnavailable, "server_error",
                    timedOut ? $"The upstream sent nothing for {_options.UpstreamTimeout.TotalSeconds:0} s." : "The upstream could not be reached or broke off the answer.")
                    .WriteAsync(context.Response, cancellationToken);
            }
        }
        var latency = Stopwatch.GetElapsedTime(started);
        var failed = failure != ForwarderError.None || exchange.UpstreamStatus >= 400;
        environment.Usage.Record(task, failed, exchange.Tokens, exchange.ExpectsUsage, latency);
        if (draft is not null)
        {
            draft.Reply = exchange.Reply;
            draft.Status = context.Response.StatusCode;
            draft.Error = failure == ForwarderError.None ? null : $"{(failure == ForwarderError.RequestTimedOut ? GatewayErrorCodes.UpstreamTimeout : GatewayErrorCodes.UpstreamUnavailable)}: {failure}";
            draft.Latency = latency;
            draft.Tokens = exchange.Tokens;
            recorder!.Add(task!, draft, _options.UpstreamKey?.Value);
        }
        if (_options.LogRequests)
        {
            LogForwarded(environment.Name, task ?? "-", request.Method, apiPath, context.Response.StatusCode, latency.TotalMilliseconds,
                exchange.Tokens?.Prompt ?? 0, exchange.Tokens?.Completion ?? 0);
        }
    }

    /// <summary><c>/v1/rest</c> or <c>/tasks/{task}/v1/rest</c>; <paramref name="apiPath"/> is the rest with its leading slash.</summary>
    internal static bool TrySplitPath(string path, out string? task, out string apiPath)
    {
        task = null;
        apiPath = "";
        if (path.StartsWith(GatewayRoutes.Tasks + "/", StringComparison.Ordinal))
        {
            var afterPrefix = path[(GatewayRoutes.Tasks.Length + 1)..];
            var slash = afterPrefix.IndexOf('/');
            if (slash <= 0)
            {
                return false;
            }
            task = Uri.UnescapeDataString(afterPrefix[..slash]);
            path = afterPrefix[slash..];
        }
        if (path == GatewayRoutes.Api || path.StartsWith(GatewayRoutes.Api + "/", StringComparison.Ordinal))
        {
            apiPath = path[GatewayRoutes.Api.Length..];
            return true;
        }
        return false;
    }

    private static string? BearerToken(HttpRequest request)
    {
        var value = request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        return value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) && value.Length > Scheme.Length ? value[Scheme.Length..].Trim() : null;
    }

    private async Task<(ReadOnlyMemory<byte> Body, bool TooLarge)> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > _options.MaxBodyBytes)
        {
            return (default, true);
        }
        using var buffer = new MemoryStream(request.ContentLength is { } length ? (int)length : 4096);
        try
        {
            await request.Body.CopyToAsync(buffer, cancellationToken);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (default, true);
        }
        return (buffer.GetBuffer().AsMemory(0, (int)buffer.Length), false);
    }

    private static void ReplaceBody(HttpRequest request, ReadOnlyMemory<byte> body)
    {
        var segment = MemoryMarshal.TryGetArray(body, out var array) ? array : new ArraySegment<byte>(body.ToArray());
        request.Body = new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false);
        request.Headers.Remove("Transfer-Encoding");
        request.ContentLength = segment.Count;
    }

    private async Task RejectAsync(HttpContext context, Tenant environment, OpenAiError error) =>
        await RejectAsync(context, environment, default, error);

    /// <summary>Answers <paramref name="error"/> and counts it; a task's refusal goes into its transcript too.</summary>
    private async Task RejectAsync(HttpContext context, Tenant environment, Refusal refusal, OpenAiError error)
    {
        environment.Usage.Reject(error.Code);
        LogRejected(environment.Name, context.Request.Method, context.Request.Path.Value, error.Status, error.Code);
        await error.WriteAsync(context.Response, context.RequestAborted);
        if (refusal.Task is { } task && environment.Transcripts is { } transcripts)
        {
            var latency = Stopwatch.GetElapsedTime(refusal.Started);
            transcripts.Add(task, new ExchangeDraft
            {
                StartedAt = DateTimeOffset.UtcNow - latency,
                Endpoint = refusal.ApiPath.Trim('/'),
                Status = error.Status,
                Error = $"{error.Code}: {error.Message}",
                Latency = latency,
            }, upstreamKey: null);
        }
    }

    /// <summary>What a refusal of a task's request needs for its transcript.</summary>
    private readonly record struct Refusal(string? Task, string ApiPath, long Started);

    private static OpenAiError Unknown(HttpRequest request) => new(StatusCodes.Status404NotFound, GatewayErrorCodes.UnknownUrl, "invalid_request_error",
        $"Unknown request URL: {request.Method} {request.Path}. The gateway forwards POST /v1/chat/completions, /v1/completions, /v1/embeddings and GET /v1/models.");

    public void Dispose() => _upstream.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "{Environment} task={Task} {Method} {Path} {Status} {ElapsedMs:0.0}ms tokens={Prompt}+{Completion}")]
    private partial void LogForwarded(string environment, string task, string method, string path, int status, double elapsedMs, long prompt, long completion);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Environment} {Method} {Path} refused {Status} {Code}")]
    private partial void LogRejected(string environment, string method, string? path, int status, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} refused 401: no token or one the gateway did not issue")]
    private partial void LogUnknownToken(string method, string? path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Environment} {Method} {Path} upstream failed ({Error}): {Reason}")]
    private partial void LogUpstreamFailure(string environment, string method, string path, ForwarderError error, string? reason);
}
