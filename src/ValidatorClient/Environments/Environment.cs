using System.Dynamic;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Backends;
using Affinetes.ValidatorClient.Episodes;
using Affinetes.ValidatorClient.Pooling;
using Affinetes.ValidatorClient.Telemetry;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Environments;

/// <summary>A loaded environment: its replicas, and its Actor's methods to call.</summary>
public interface IEnvironment : IAsyncDisposable
{
    /// <summary>The image (or URL) this environment runs.</summary>
    string Name { get; }

    /// <summary>Where each live replica answers, in replica order.</summary>
    IReadOnlyList<ReplicaEndpoint> Replicas { get; }

    /// <summary>
    /// Calls <paramref name="method"/> with positional <paramref name="args"/> and keyword <paramref name="kwargs"/>
    /// (any values System.Text.Json can write; objects' members go snake_case). <paramref name="timeout"/> is the
    /// deadline: past it the call fails with <see cref="DeadlineExceededException"/> and the environment cancels the
    /// work (null: <see cref="EnvironmentOptions.DefaultCallTimeout"/>; <see cref="Timeout.InfiniteTimeSpan"/>: none);
    /// cancelling <paramref name="cancellationToken"/> throws <see cref="OperationCanceledException"/> instead.
    /// </summary>
    Task<JsonElement> CallAsync(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Like <see cref="CallAsync(string, IReadOnlyList{object?}?, IReadOnlyDictionary{string, object?}?, TimeSpan?, CancellationToken)"/>,
    /// the result read as <typeparamref name="T"/>: snake_case fields map to PascalCase members (<c>task_id</c> to
    /// <c>TaskId</c>), and a missing <c>required</c> member or constructor parameter fails with <see cref="RemoteActorException"/>.
    /// </summary>
    Task<T> CallAsync<T>(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>The public methods of the Actor (signatures, parameters, docstrings), from a replica that takes calls.</summary>
    Task<IReadOnlyList<MethodDescriptor>> ListMethodsAsync(CancellationToken cancellationToken = default);

    /// <summary>True when every live replica answers <c>/health</c> with 200.</summary>
    Task<bool> HealthAsync(CancellationToken cancellationToken = default);

    /// <summary>Per replica: requests, failures, calls in flight, latency, health.</summary>
    IReadOnlyList<ReplicaStats> GetStats();

    /// <summary>A typed client: each method of <typeparamref name="T"/> calls the Actor method of the same name (snake_case, without Async).</summary>
    T As<T>() where T : class;

    /// <summary>
    /// Every live replica's log lines as they come, until cancelled (or, unless <paramref name="follow"/>, until the
    /// lines so far are read). Replicas that join later (replacements) are not followed by one enumeration.
    /// </summary>
    IAsyncEnumerable<ReplicaLogLine> ReadLogsAsync(bool follow, CancellationToken cancellationToken = default);

    /// <summary>
    /// The LLM gateway's base URL as this environment's actor reaches it (<c>http://127.0.0.1:PORT/v1</c>, or the
    /// gateway's public URL on Basilica), to pass
    /// as an <c>evaluate(base_url=...)</c> argument; null when the environment has no gateway (<see cref="EnvironmentOptions.Llm"/>).
    /// <see cref="GatewayRoutes.TaskBaseUrl"/> of it counts a task's calls apart.
    /// </summary>
    string? LlmBaseUrl => null;

    /// <summary>What the environment used through the LLM gateway (tokens as the upstream reported them, requests, errors, latency, per task not collected yet); null without a gateway.</summary>
    Task<TenantUsage?> GetLlmUsageAsync(CancellationToken cancellationToken = default) => Task.FromResult<TenantUsage?>(null);

    /// <summary>
    /// What the named tasks used through the LLM gateway since they were last collected (calls made at their
    /// <see cref="GatewayRoutes.TaskBaseUrl"/>), which the gateway then forgets; tasks that used nothing are left
    /// out. Empty without a gateway. The evaluation runner collects each task as it stores its result.
    /// </summary>
    Task<IReadOnlyDictionary<string, TaskRecord>> CollectLlmTasksAsync(IReadOnlyList<string> taskIds, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyDictionary<string, TaskRecord>>(new Dictionary<string, TaskRecord>());

    /// <summary>
    /// The interactive (OpenEnv) side: <c>reset</c> opens an episode pinned to the replica that answered it, whose
    /// <c>step</c>, <c>state</c> and <c>stop</c> go to that replica alone. The same client for every call.
    /// </summary>
    IOpenEnvClient OpenEnv() => throw new NotSupportedException(
        $"{GetType().Name} has no OpenEnv client: episodes need calls pinned to one replica, which environments from AffinetesClient.LoadEnvAsync make");
}

/// <summary>One log line of one replica.</summary>
/// <param name="Replica">The container name (and engine), or the URL.</param>
/// <param name="Line">The line, without its newline.</param>
public sealed record ReplicaLogLine(string Replica, string Line);

/// <summary>
/// The environment behind <see cref="IAffinetesClient.LoadEnvAsync"/>. Also a dynamic object, so validators write
/// what they wrote in Python: <c>dynamic env = await AffinetesClient.LoadEnvAsync(...);
/// await env.evaluate(task_id: 1, model: "m", _timeout: 360)</c>. Public so that its own members
/// (<c>CallAsync</c>, <c>DisposeAsync</c> ...) stay reachable through <c>dynamic</c>; any other name is a remote method.
/// </summary>
public sealed class AffinetesEnvironment : DynamicObject, IEnvironment
{
    private readonly IBackend _backend;
    private readonly ReplicaPool _pool;
    private readonly HttpClient _http;
    private readonly EnvironmentOptions _options;
    private readonly ILogger _logger;
    private readonly Action<AffinetesEnvironment>? _released;
    private readonly Func<TimeSpan?, CancellationToken, Task<AffinetesEnvironment>>? _fresh;
    private readonly CancellationTokenSource _following = new();
    private readonly Task _logFile;
    private readonly Gateway.GatewayAccess? _gateway;
    private readonly Lazy<RemovedReplicas> _removed;
    private OpenEnvClient? _openEnv;
    private int _disposed;

    internal AffinetesEnvironment(string name, IBackend backend, ReplicaPool pool, HttpClient http, EnvironmentOptions options, ILogger logger,
        Action<AffinetesEnvironment>? released, Func<TimeSpan?, CancellationToken, Task<AffinetesEnvironment>>? fresh = null, Gateway.GatewayAccess? gateway = null)
    {
        _gateway = gateway;
        _fresh = fresh;
        Name = name;
        _backend = backend;
        _pool = pool;
        _http = http;
        _options = options;
        _logger = logger;
        _released = released;
        _logFile = options.LogFile is { } path ? WriteLogFileAsync(path, _following.Token) : Task.CompletedTask;
        _removed = new Lazy<RemovedReplicas>(() => new RemovedReplicas(_pool));
    }

    public IOpenEnvClient OpenEnv()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return LazyInitializer.EnsureInitialized(ref _openEnv, () => new OpenEnvClient(Name, LeaseEpisodeReplicaAsync,
            () => [.. _pool.OpenEpisodes.Select(r => new ReplicaEpisodes(r.Replica, r.OpenEpisodes))], _options.DefaultCallTimeout, _logger));
    }

    /// <summary>A replica for a new episode: from the pool (the fewest open episodes), or a fresh deployment of its own when every call gets one.</summary>
    private async Task<EpisodeLease> LeaseEpisodeReplicaAsync(IReadOnlyCollection<ReplicaEndpoint> avoid, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_fresh is null)
        {
            var removed = _removed.Value; // listening before the replica is picked, so that its removal is never missed
            return new EpisodeLease(_pool, await _pool.ReserveEpisodeAsync(avoid, cancellationToken), removed);
        }
        var one = await _fresh(null, cancellationToken);
        try
        {
            return (await one.LeaseEpisodeReplicaAsync([], cancellationToken)).Owning(one);
        }
        catch
        {
            await one.DisposeAsync();
            throw;
        }
    }

    public string Name { get; }

    public IReadOnlyList<ReplicaEndpoint> Replicas => _pool.Endpoints;

    public string? LlmBaseUrl => _gateway?.ActorBaseUrl;

    /// <summary>Where it runs (the evaluation services watch a Basilica deployment for its loss).</summary>
    internal IBackend Backend => _backend;

    public async Task<TenantUsage?> GetLlmUsageAsync(CancellationToken cancellationToken = default) =>
        _gateway is null ? null : await _gateway.Gateway.UsageAsync(_gateway.Name, cancellationToken);

    public async Task<IReadOnlyDictionary<string, TaskRecord>> CollectLlmTasksAsync(IReadOnlyList<string> taskIds, CancellationToken cancellationToken = default) =>
        _gateway is null || taskIds.Count == 0
            ? new Dictionary<string, TaskRecord>()
            : (await _gateway.Gateway.CollectAsync(_gateway.Name, taskIds, cancellationToken)).Tasks;

    public Task<JsonElement> CallAsync(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentException.ThrowIfNullOrWhiteSpace(method);
        if (timeout is { } t && t <= TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), t, "a call's timeout must be positive, or Timeout.InfiniteTimeSpan for none");
        }
        var deadline = timeout == Timeout.InfiniteTimeSpan ? null : timeout ?? _options.DefaultCallTimeout;
        return _fresh is null
            ? _pool.CallAsync(method, WireValues.CallBody(method, args, kwargs), deadline, cancellationToken)
            : CallOnFreshAsync(method, args, kwargs, deadline, cancellationToken);
    }

    /// <summary>Isolation (a fresh deployment per call): provisions one replica for this call alone and releases it after.</summary>
    private async Task<JsonElement> CallOnFreshAsync(string method, IReadOnlyList<object?>? args, IReadOnlyDictionary<string, object?>? kwargs,
        TimeSpan? timeout, CancellationToken cancellationToken)
    {
        await using var one = await _fresh!(timeout, cancellationToken);
        return await one.CallAsync(method, args, kwargs, timeout, cancellationToken);
    }

    public async Task<T> CallAsync<T>(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var result = await CallAsync(method, args, kwargs, timeout, cancellationToken);
        try
        {
            return result.Deserialize<T>(WireValues.Json)!;
        }
        catch (JsonException e)
        {
            throw new RemoteActorException(method, null, $"the result does not read as {typeof(T).Name}: {e.Message}; it was {Shorten(result.GetRawText())}", 200, null);
        }
    }

    private static string Shorten(string text) => text.Length <= 500 ? text : text[..500] + "...";

    public async Task<IReadOnlyList<MethodDescriptor>> ListMethodsAsync(CancellationToken cancellationToken = default)
    {
        if (_fresh is not null)
        {
            await using var one = await _fresh(null, cancellationToken);
            return await one.ListMethodsAsync(cancellationToken);
        }
        var replica = _pool.Endpoints.FirstOrDefault() ?? throw new EnvironmentUnavailableException($"no replica of {Name} is live");
        using var response = await _http.GetAsync(new Uri(replica.BaseUrl, WireRoutes.Methods), cancellationToken);
        if (response.StatusCode == System.Net.HttpStatusCode.Unauthorized)
        {
            throw new EnvironmentAuthenticationException(replica.Description, _http.DefaultRequestHeaders.Authorization is not null);
        }
        response.EnsureSuccessStatusCode();
        var methods = await response.Content.ReadFromJsonAsync(ProtocolJson.Wire.MethodsResponse, cancellationToken);
        return methods?.Methods ?? [];
    }

    public async Task<bool> HealthAsync(CancellationToken cancellationToken = default)
    {
        var checks = Replicas.Select(async r =>
        {
            try
            {
                using var response = await _http.GetAsync(new Uri(r.BaseUrl, WireRoutes.Health), cancellationToken);
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        });
        return (await Task.WhenAll(checks)).All(ok => ok);
    }

    public IReadOnlyList<ReplicaStats> GetStats() => _pool.Stats();

    public T As<T>() where T : class => TypedProxy.Create<T>(this);

    public async IAsyncEnumerable<ReplicaLogLine> ReadLogsAsync(bool follow, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var lines = Channel.CreateBounded<ReplicaLogLine>(new BoundedChannelOptions(1024) { SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pumps = Replicas.Select(replica => Task.Run(async () =>
        {
            await foreach (var line in _backend.ReadLogsAsync(replica, follow, stop.Token))
            {
                await lines.Writer.WriteAsync(new ReplicaLogLine(replica.Description, line), stop.Token);
            }
        }, stop.Token)).ToList();
        var completion = Task.WhenAll(pumps).ContinueWith(t => lines.Writer.TryComplete(t.Exception?.InnerException is OperationCanceledException ? null : t.Exception?.InnerException),
            CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        try
        {
            await foreach (var line in lines.Reader.ReadAllAsync(cancellationToken))
            {
                yield return line;
            }
        }
        finally
        {
            await stop.CancelAsync();
            await completion;
        }
    }

    /// <summary>Appends every replica's lines to <paramref name="path"/>, following replacements, until the environment goes.</summary>
    private async Task WriteLogFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        var gate = new SemaphoreSlim(1, 1);
        var followers = new List<Task>();
        void Follow(ReplicaEndpoint replica) => followers.Add(Task.Run(async () =>
        {
            try
            {
                await foreach (var line in _backend.ReadLogsAsync(replica, follow: true, cancellationToken))
                {
                    await gate.WaitAsync(cancellationToken);
                    try
                    {
                        await file.WriteLineAsync($"[{replica.Description}] {line}".AsMemory(), cancellationToken);
                    }
                    finally
                    {
                        gate.Release();
                    }
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // The replica went away, or its engine did: the file has what there was.
                if (!cancellationToken.IsCancellationRequested)
                {
                    Log.LogFileFailed(_logger, path, e.Message);
                }
            }
        }, CancellationToken.None));
        _pool.ReplicaAdded += Follow;
        foreach (var replica in _pool.Endpoints)
        {
            Follow(replica);
        }
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
        _pool.ReplicaAdded -= Follow;
        await Task.WhenAll(followers);
    }

    /// <summary><c>env.evaluate(task_id: 1, _timeout: 360)</c>: named arguments are kwargs, <c>_timeout</c> (seconds) the deadline.</summary>
    public override bool TryInvokeMember(InvokeMemberBinder binder, object?[]? args, out object? result)
    {
        ArgumentNullException.ThrowIfNull(binder);
        args ??= [];
        var names = binder.CallInfo.ArgumentNames;
        var positional = args.Take(args.Length - names.Count).ToList();
        var kwargs = new Dictionary<string, object?>(StringComparer.Ordinal);
        TimeSpan? timeout = null;
        var cancellationToken = CancellationToken.None;
        for (var i = 0; i < names.Count; i++)
        {
            var value = args[args.Length - names.Count + i];
            switch (names[i])
            {
                case "_timeout":
                    timeout = value switch
                    {
                        TimeSpan span => span,
                        null => null,
                        _ => TimeSpan.FromSeconds(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)),
                    };
                    break;
                case "_cancellation":
                    cancellationToken = (CancellationToken)value!;
                    break;
                default:
                    kwargs[names[i]] = value;
                    break;
            }
        }
        result = CallAsync(binder.Name, positional, kwargs, timeout, cancellationToken);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _released?.Invoke(this);
        await _following.CancelAsync();
        await _logFile;
        await _pool.DisposeAsync();
        try
        {
            await _backend.DisposeAsync();
            Log.EnvironmentReleased(_logger, Name);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Releasing must not throw for "already gone"; anything else is said, and `afs cleanup` finds what is left.
            Log.ReleaseFailed(_logger, Name, e.Message);
        }
        if (_gateway is not null)
        {
            await _gateway.Gateway.RemoveAsync(_gateway.Name);
        }
        _http.Dispose();
        _following.Dispose();
    }
}

/// <summary>How arguments are written and results read: members of objects in snake_case both ways, as Python has them.</summary>
internal static class WireValues
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        PropertyNameCaseInsensitive = true,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>The <c>/call</c> body: method, positional and keyword arguments (keyword names as given).</summary>
    public static byte[] CallBody(string method, IReadOnlyList<object?>? args, IReadOnlyDictionary<string, object?>? kwargs)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("method", method);
            writer.WritePropertyName("args");
            writer.WriteStartArray();
            foreach (var arg in args ?? [])
            {
                JsonSerializer.Serialize(writer, arg, Json);
            }
            writer.WriteEndArray();
            writer.WritePropertyName("kwargs");
            writer.WriteStartObject();
            foreach (var (name, value) in kwargs ?? new Dictionary<string, object?>())
            {
                writer.WritePropertyName(name);
                JsonSerializer.Serialize(writer, value, Json);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
