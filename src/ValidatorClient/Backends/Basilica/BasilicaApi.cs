using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.RateLimiting;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace Affinetes.ValidatorClient.Backends.Basilica;

/// <summary>
/// The Basilica deployments API over HTTP. Transient failures (429, 503, errors marked <c>retryable</c>, reset or
/// refused connections) are retried with jittered exponential back-off on one Polly pipeline; other errors raise
/// <see cref="BasilicaApiException"/> with Basilica's code and message. The key goes in each request's header only.
/// Every request, retries included, first takes a token from the bucket this process keeps for the API and key
/// (<see cref="BasilicaOptions.ApiRequestsPerSecond"/>). Bodies are sent with their length (no chunked encoding,
/// which some fronting proxies refuse).
/// </summary>
internal sealed class BasilicaApi : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly Uri _root;
    private readonly AuthenticationHeaderValue _auth;
    private readonly ResiliencePipeline _retry;
    private readonly RateLimiter _rate;
    private readonly ILogger _logger;

    public BasilicaApi(BasilicaOptions options, ILogger logger, HttpClient? http = null)
    {
        options.Validate();
        _logger = logger;
        _root = new Uri(options.ResolvedApiUrl);
        _auth = new AuthenticationHeaderValue("Bearer", options.ResolvedToken);
        _rate = BasilicaRateLimits.For(_root.ToString(), options.ResolvedToken!, options.ApiRequestsPerSecond, options.ApiBurst);
        _ownsHttp = http is null;
        _http = http ?? new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10), PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60) })
        {
            Timeout = TimeSpan.FromSeconds(60),
        };
        _retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder()
                    .Handle<BasilicaApiException>(e => e.IsRetryable)
                    .Handle<HttpRequestException>()
                    .Handle<TaskCanceledException>(e => e.InnerException is TimeoutException),
                MaxRetryAttempts = Math.Max(0, options.MaxRetries),
                Delay = options.RetryDelay,
                MaxDelay = TimeSpan.FromSeconds(8),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = args =>
                {
                    Log.BasilicaRetry(_logger, args.Context.OperationKey ?? "request", args.AttemptNumber + 1,
                        args.Outcome.Exception?.Message ?? "unknown", args.RetryDelay.TotalMilliseconds);
                    return default;
                },
            })
            .Build();
    }

    private const string UnreachableMark = "affinetes.basilica.unreachable";

    /// <summary>Whether <paramref name="e"/> says the API could not be reached at all (after the retries).</summary>
    public static bool IsUnreachable(Exception e) => e is EnvironmentUnavailableException && e.Data.Contains(UnreachableMark);

    /// <summary>The API root, for messages.</summary>
    public Uri Root => _root;

    /// <summary><c>POST /deployments</c>: 201 new, 200 when that name is already active (its spec unchanged).</summary>
    public Task<Deployment> CreateAsync(CreateDeploymentRequest request, CancellationToken cancellationToken) =>
        SendAsync($"create {request.InstanceName}", () => new HttpRequestMessage(HttpMethod.Post, "deployments")
        {
            Content = SizedJson(request),
        }, ReadAsync<Deployment>, cancellationToken);

    /// <summary>A JSON body with its Content-Length.</summary>
    private static ByteArrayContent SizedJson<T>(T value)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(value, BasilicaJson.Options));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }

    public Task<Deployment> GetAsync(string instanceName, CancellationToken cancellationToken) =>
        SendAsync($"get {instanceName}", () => new HttpRequestMessage(HttpMethod.Get, $"deployments/{Uri.EscapeDataString(instanceName)}"), ReadAsync<Deployment>, cancellationToken);

    public Task<DeploymentList> ListAsync(CancellationToken cancellationToken) =>
        SendAsync("list", () => new HttpRequestMessage(HttpMethod.Get, "deployments"), ReadAsync<DeploymentList>, cancellationToken);

    public async Task<IReadOnlyList<string>> RecentEventsAsync(string instanceName, int limit, CancellationToken cancellationToken)
    {
        var events = await SendAsync($"events {instanceName}",
            () => new HttpRequestMessage(HttpMethod.Get, $"deployments/{Uri.EscapeDataString(instanceName)}/events?limit={limit}"),
            ReadAsync<DeploymentEvents>, cancellationToken);
        return [.. events.Events.Select(e => $"{e.Type} {e.Reason}: {e.Message}" + (e.Count is > 1 ? $" (x{e.Count})" : ""))];
    }

    /// <summary>
    /// <c>DELETE /deployments/{name}</c>, retried until Basilica accepts it; true when it deleted it, false when it
    /// was gone already (404).
    /// </summary>
    public async Task<bool> DeleteAsync(string instanceName, CancellationToken cancellationToken)
    {
        try
        {
            await SendAsync($"delete {instanceName}", () => new HttpRequestMessage(HttpMethod.Delete, $"deployments/{Uri.EscapeDataString(instanceName)}"),
                static (_, _) => Task.FromResult(true), cancellationToken);
            return true;
        }
        catch (BasilicaApiException e) when (e.StatusCode == (int)HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary><c>GET /deployments/{name}/logs</c> (server-sent events): each line's message.</summary>
    public async IAsyncEnumerable<string> LogsAsync(string instanceName, bool follow, int? tail, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get,
            new Uri(_root, $"deployments/{Uri.EscapeDataString(instanceName)}/logs?follow={(follow ? "true" : "false")}{(tail is { } n ? $"&tail={n}" : "")}"));
        request.Headers.Authorization = _auth;
        (await AcquireAsync(cancellationToken)).Dispose(); // a bucket's token is spent, not given back
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await ThrowOnErrorAsync(response, $"logs {instanceName}", cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(stream);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }
            var entry = JsonSerializer.Deserialize<DeploymentLogLine>(line.AsSpan(5).Trim(), BasilicaJson.Options);
            if (entry?.Message is { } message)
            {
                yield return message.TrimEnd('\n');
            }
        }
    }

    private async Task<T> SendAsync<T>(string what, Func<HttpRequestMessage> build, Func<HttpResponseMessage, CancellationToken, Task<T>> read,
        CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(what, cancellationToken);
        try
        {
            return await _retry.ExecuteAsync(async ctx =>
            {
                using var request = build();
                request.RequestUri = new Uri(_root, request.RequestUri!.OriginalString);
                request.Headers.Authorization = _auth;
                (await AcquireAsync(ctx.CancellationToken)).Dispose(); // a bucket's token is spent, not given back
                using var response = await _http.SendAsync(request, ctx.CancellationToken);
                await ThrowOnErrorAsync(response, what, ctx.CancellationToken);
                return await read(response, ctx.CancellationToken);
            }, context);
        }
        catch (HttpRequestException e)
        {
            var unreachable = new EnvironmentUnavailableException($"cannot reach the Basilica API at {_root} ({what})", reason: e.Message, inner: e);
            unreachable.Data[UnreachableMark] = true;
            throw unreachable;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>A token of the bucket: waits (in order) while the API and key are at their rate.</summary>
    private async ValueTask<RateLimitLease> AcquireAsync(CancellationToken cancellationToken)
    {
        var lease = _rate.AttemptAcquire();
        if (lease.IsAcquired)
        {
            return lease;
        }
        lease.Dispose();
        Log.BasilicaRateWait(_logger, _root.ToString());
        return await _rate.AcquireAsync(1, cancellationToken);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken) =>
        await response.Content.ReadFromJsonAsync<T>(BasilicaJson.Options, cancellationToken)
        ?? throw new BasilicaApiException((int)response.StatusCode, "BASILICA_EMPTY_ANSWER", "the answer had no body", false, typeof(T).Name);

    /// <summary>Turns an error answer into <see cref="BasilicaApiException"/>: Basilica's code and message, or the status's meaning when the body is empty.</summary>
    private static async Task ThrowOnErrorAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        BasilicaErrorBody? error = null;
        try
        {
            error = text.Length == 0 ? null : JsonSerializer.Deserialize<BasilicaError>(text, BasilicaJson.Options)?.Error;
        }
        catch (JsonException)
        {
        }
        var retryable = error?.Retryable ?? status is 429 or 502 or 503 or 504;
        var code = error?.Code ?? $"HTTP_{status}";
        var message = error?.Message ?? (text.Length > 0 && text.Length < 300 ? text : status switch
        {
            401 => "the API key was refused; set BASILICA_API_TOKEN to a valid key (basilica_...)",
            403 => "the API key may not do this (forbidden or over quota)",
            404 => "no such deployment",
            429 => "rate limited",
            503 => "Basilica is unavailable",
            _ => response.ReasonPhrase ?? "no message",
        });
        throw new BasilicaApiException(status, code, message, retryable || status is 429 or 503, what);
    }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }
}
