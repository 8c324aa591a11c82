using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Backends;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>Counters of one replica, as <see cref="IEnvironment.GetStats"/> reports them.</summary>
public sealed record ReplicaStats(string Id, string Description, bool Healthy, long Requests, long Failures, int InFlight, double AverageLatencyMs, double MaxLatencyMs);

/// <summary>One replica's address and counters; read without locks on the call path.</summary>
internal sealed class Replica(ReplicaEndpoint endpoint)
{
    private long _requests;
    private long _failures;
    private int _inFlight;
    private long _latencyTicks;
    private long _maxLatencyTicks;

    public ReplicaEndpoint Endpoint { get; } = endpoint;
    public Uri CallUri { get; } = new(endpoint.BaseUrl, WireRoutes.Call);
    public volatile bool Healthy = true;
    public int InFlight => Volatile.Read(ref _inFlight);

    public void Enter()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _requests);
    }

    public void Leave(long elapsedTicks, bool failed)
    {
        Interlocked.Decrement(ref _inFlight);
        Interlocked.Add(ref _latencyTicks, elapsedTicks);
        if (failed)
        {
            Interlocked.Increment(ref _failures);
        }
        var max = Volatile.Read(ref _maxLatencyTicks);
        while (elapsedTicks > max && Interlocked.CompareExchange(ref _maxLatencyTicks, elapsedTicks, max) != max)
        {
            max = Volatile.Read(ref _maxLatencyTicks);
        }
    }

    public ReplicaStats Stats()
    {
        var requests = Interlocked.Read(ref _requests);
        var done = requests - InFlight;
        return new ReplicaStats(Endpoint.Id, Endpoint.Description, Healthy, requests, Interlocked.Read(ref _failures), InFlight,
            done <= 0 ? 0 : Interlocked.Read(ref _latencyTicks) * 1000.0 / Stopwatch.Frequency / done,
            Interlocked.Read(ref _maxLatencyTicks) * 1000.0 / Stopwatch.Frequency);
    }
}

/// <summary>
/// The replicas of one environment and the call path over them: pick a healthy replica, POST the call with the
/// deadline, map the answer to a result or a specific error, and retry on another replica only when the call
/// failed in transport (the actor never answered). A monitor brings back replicas that recover and replaces,
/// through the backend, replicas that died.
/// </summary>
internal sealed class ReplicaPool : IAsyncDisposable
{
    private static readonly TimeSpan MonitorInterval = TimeSpan.FromMilliseconds(500);

    private readonly IBackend _backend;
    private readonly EnvironmentOptions _options;
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _replaceLock = new();
    private readonly Task _monitor;
    private Replica[] _replicas;
    private int _next;

    public ReplicaPool(IBackend backend, EnvironmentOptions options, HttpClient http, IReadOnlyList<ReplicaEndpoint> endpoints)
    {
        _backend = backend;
        _options = options;
        _http = http;
        _replicas = [.. endpoints.Select(e => new Replica(e))];
        _monitor = Task.Run(MonitorAsync);
    }

    public IReadOnlyList<ReplicaEndpoint> Endpoints => [.. Volatile.Read(ref _replicas).Select(r => r.Endpoint)];

    /// <summary>Raised after a dead replica was replaced, with the new one.</summary>
    public event Action<ReplicaEndpoint>? Replaced;

    public IReadOnlyList<ReplicaStats> Stats() => [.. Volatile.Read(ref _replicas).Select(r => r.Stats())];

    /// <summary>Sends one call; <paramref name="body"/> is the <c>/call</c> request already serialised.</summary>
    public async Task<JsonElement> CallAsync(string method, byte[] body, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        using var deadline = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline?.CancelAfter(timeout!.Value);
        var token = deadline?.Token ?? cancellationToken;
        var tried = new List<Replica>(2);
        Exception? lastTransportError = null;
        while (true)
        {
            var replica = Pick(tried);
            if (replica is null)
            {
                throw new EnvironmentUnavailableException(
                    $"no replica of {_options.Image ?? "the environment"} could take the call to {method} ({tried.Count} tried)", inner: lastTransportError);
            }
            tried.Add(replica);
            var started = Stopwatch.GetTimestamp();
            replica.Enter();
            var failed = true;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, replica.CallUri) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = JsonContentType;
                if (timeout is { } t)
                {
                    request.Headers.TryAddWithoutValidation(WireHeaders.Timeout, t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture));
                }
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, token);
                var bytes = await response.Content.ReadAsByteArrayAsync(token);
                if (response.StatusCode == HttpStatusCode.ServiceUnavailable && IsRefusal(bytes, out var stopping))
                {
                    // The actor did not run the call (starting, draining or at its limit): another replica may.
                    if (stopping)
                    {
                        MarkUnhealthy(replica);
                    }
                    lastTransportError = new HttpRequestException($"{replica.Endpoint.Description} refused the call (503)");
                    continue;
                }
                var result = WireAnswer.Read(method, response.StatusCode, bytes, timeout);
                failed = false;
                return result;
            }
            catch (HttpRequestException e)
            {
                // Transport: the actor never answered. Retry elsewhere; the monitor looks at this replica.
                lastTransportError = e;
                MarkUnhealthy(replica);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && deadline?.IsCancellationRequested == true)
            {
                throw new DeadlineExceededException(method, timeout!.Value, serverSide: false);
            }
            finally
            {
                replica.Leave(Stopwatch.GetTimestamp() - started, failed);
            }
        }
    }

    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    private static bool IsRefusal(byte[] body, out bool stopping)
    {
        stopping = false;
        try
        {
            using var doc = JsonDocument.Parse(body);
            var code = doc.RootElement.GetProperty("error").GetProperty("code").GetString();
            stopping = code is ErrorCodes.ShuttingDown or ErrorCodes.NotReady;
            return code is ErrorCodes.ShuttingDown or ErrorCodes.NotReady or ErrorCodes.Overloaded;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The next healthy replica not yet tried for this call; an unhealthy one only when no healthy one is left.</summary>
    private Replica? Pick(List<Replica> tried)
    {
        var replicas = Volatile.Read(ref _replicas);
        Replica? best = null;
        switch (_options.LoadBalance)
        {
            case LoadBalance.LeastBusy:
                foreach (var r in replicas)
                {
                    if (r.Healthy && !tried.Contains(r) && (best is null || r.InFlight < best.InFlight))
                    {
                        best = r;
                    }
                }
                break;
            default:
                var start = _options.LoadBalance == LoadBalance.Random ? Random.Shared.Next(replicas.Length) : Interlocked.Increment(ref _next);
                for (var i = 0; i < replicas.Length && best is null; i++)
                {
                    var r = replicas[(int)((uint)(start + i) % (uint)replicas.Length)];
                    if (r.Healthy && !tried.Contains(r))
                    {
                        best = r;
                    }
                }
                break;
        }
        return best ?? replicas.FirstOrDefault(r => !tried.Contains(r));
    }

    private static void MarkUnhealthy(Replica replica) => replica.Healthy = false;

    /// <summary>Brings back replicas that answer /health again; replaces, through the backend, those that died.</summary>
    private async Task MonitorAsync()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(MonitorInterval, token);
                foreach (var replica in Volatile.Read(ref _replicas).Where(r => !r.Healthy))
                {
                    await CheckAsync(replica, token);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A backend hiccup (engine unreachable for a moment) must not stop the monitor; it tries again.
                _options.LogSink?.Invoke($"[affinetes] replica monitor: {e.Message}");
            }
        }
    }

    private async Task CheckAsync(Replica replica, CancellationToken token)
    {
        if (await _backend.DiagnoseAsync(replica.Endpoint, token) is { } dead)
        {
            _options.LogSink?.Invoke($"[affinetes] {replica.Endpoint.Description} died: {dead.Message.Split('\n')[0]}; replacing it");
            var replacement = await _backend.ReplaceAsync(replica.Endpoint, token);
            if (replacement is not null)
            {
                lock (_replaceLock)
                {
                    _replicas = [.. _replicas.Select(r => r == replica ? new Replica(replacement) : r)];
                }
                Replaced?.Invoke(replacement);
            }
            return;
        }
        try
        {
            using var probe = CancellationTokenSource.CreateLinkedTokenSource(token);
            probe.CancelAfter(TimeSpan.FromSeconds(3));
            using var response = await _http.GetAsync(new Uri(replica.Endpoint.BaseUrl, WireRoutes.Health), probe.Token);
            replica.Healthy = response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !token.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        try
        {
            await _monitor;
        }
        catch (OperationCanceledException)
        {
        }
        _stopping.Dispose();
    }
}

/// <summary>Turns a host's answer into the result or the specific error a validator can act on.</summary>
internal static class WireAnswer
{
    public static JsonElement Read(string method, HttpStatusCode status, byte[] body, TimeSpan? timeout)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            var text = System.Text.Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 300));
            throw new RemoteActorException(method, null, $"the environment answered {(int)status} with non-JSON: {text}", (int)status, null);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (status == HttpStatusCode.OK && root.ValueKind == JsonValueKind.Object && root.TryGetProperty("status", out var envelopeStatus))
            {
                if (envelopeStatus.GetString() == CallStatus.Success)
                {
                    return root.TryGetProperty("result", out var result) ? result.Clone() : default;
                }
                // The original's "failed" envelope (its server-side timeout) carries the reason in result.error.
                var reason = root.TryGetProperty("error", out var err) && err.ValueKind == JsonValueKind.String ? err.GetString()
                    : root.TryGetProperty("result", out var r) && r.ValueKind == JsonValueKind.Object && r.TryGetProperty("error", out var re) ? re.ToString() : root.GetRawText();
                throw new RemoteActorException(method, null, reason ?? "failed", (int)status, envelopeStatus.GetString());
            }
            if (status == HttpStatusCode.OK)
            {
                return root.Clone(); // a server without the envelope (an http-based environment)
            }
            var detail = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("detail", out var d) ? d.ToString() : root.GetRawText();
            string? code = null, type = null, message = null, parameter = null;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                code = error.TryGetProperty("code", out var c) ? c.GetString() : null;
                type = error.TryGetProperty("type", out var t) ? t.GetString() : null;
                message = error.TryGetProperty("message", out var m) ? m.GetString() : null;
                parameter = error.TryGetProperty("parameter", out var p) ? p.GetString() : null;
            }
            throw (status, code) switch
            {
                (HttpStatusCode.NotFound, _) => new MethodNotFoundException(method),
                (HttpStatusCode.BadRequest, _) => new BadArgumentsException(method, parameter, message ?? detail),
                (HttpStatusCode.GatewayTimeout, _) or (_, ErrorCodes.DeadlineExceeded) => new DeadlineExceededException(method, timeout ?? TimeSpan.Zero, serverSide: true),
                (HttpStatusCode.Unauthorized, _) => new RemoteActorException(method, null, "the environment requires an auth token (AuthToken)", 401, code),
                _ => new RemoteActorException(method, type, message ?? detail, (int)status, code),
            };
        }
    }
}
