using System.Dynamic;
using System.Net.Http.Json;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Backends;
using Affinetes.ValidatorClient.Pooling;

namespace Affinetes.ValidatorClient.Environments;

/// <summary>A loaded environment: its replicas, and its Actor's methods to call.</summary>
public interface IEnvironment : IAsyncDisposable
{
    /// <summary>The image (or URL) this environment runs.</summary>
    string Name { get; }

    /// <summary>Where each replica answers.</summary>
    IReadOnlyList<ReplicaEndpoint> Replicas { get; }

    /// <summary>
    /// Calls <paramref name="method"/> with positional <paramref name="args"/> and keyword <paramref name="kwargs"/>
    /// (any values System.Text.Json can write). <paramref name="timeout"/> is the deadline: past it the call fails
    /// with <see cref="DeadlineExceededException"/> and the environment cancels the work; cancelling
    /// <paramref name="cancellationToken"/> throws <see cref="OperationCanceledException"/> instead.
    /// </summary>
    Task<JsonElement> CallAsync(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>Like <see cref="CallAsync(string, IReadOnlyList{object?}?, IReadOnlyDictionary{string, object?}?, TimeSpan?, CancellationToken)"/>, the result read as <typeparamref name="T"/>.</summary>
    Task<T> CallAsync<T>(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>The public methods of the Actor, from the first replica.</summary>
    Task<IReadOnlyList<MethodDescriptor>> ListMethodsAsync(CancellationToken cancellationToken = default);

    /// <summary>True when every replica answers <c>/health</c> with 200.</summary>
    Task<bool> HealthAsync(CancellationToken cancellationToken = default);

    /// <summary>Per replica: requests, failures, calls in flight, latency.</summary>
    IReadOnlyList<ReplicaStats> GetStats();

    /// <summary>A typed client: each method of <typeparamref name="T"/> calls the Actor method of the same name (snake_case, without Async).</summary>
    T As<T>() where T : class;

    /// <summary>Streams every replica's log lines to <paramref name="sink"/> until cancelled (or their end, unless <paramref name="follow"/>).</summary>
    Task StreamLogsAsync(Action<string> sink, bool follow, CancellationToken cancellationToken = default);
}

/// <summary>
/// The environment behind <see cref="AffinetesClient.LoadEnvAsync"/>. Also a dynamic object, so validators write
/// what they wrote in Python: <c>dynamic env = await AffinetesClient.LoadEnvAsync(...);
/// await env.evaluate(task_id: 1, model: "m", _timeout: 360)</c>. Public so that its own members
/// (<c>CallAsync</c>, <c>DisposeAsync</c> ...) stay reachable through <c>dynamic</c>; any other name is a remote method.
/// </summary>
public sealed class AffinetesEnvironment : DynamicObject, IEnvironment
{
    private static readonly JsonSerializerOptions ArgumentJson = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = null };

    private readonly IBackend _backend;
    private readonly ReplicaPool _pool;
    private readonly HttpClient _http;
    private readonly EnvironmentOptions _options;
    private readonly CancellationTokenSource _logStreaming = new();
    private readonly Action<string>? _logLine;
    private readonly StreamWriter? _logFile;
    private int _disposed;

    internal AffinetesEnvironment(string name, IBackend backend, ReplicaPool pool, HttpClient http, EnvironmentOptions options)
    {
        Name = name;
        _backend = backend;
        _pool = pool;
        _http = http;
        _options = options;
        if (options.LogFile is { } path)
        {
            _logFile = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        }
        if (options.LogSink is not null || _logFile is not null)
        {
            _logLine = line =>
            {
                options.LogSink?.Invoke(line);
                if (_logFile is { } file)
                {
                    lock (file)
                    {
                        file.WriteLine(line);
                    }
                }
            };
            foreach (var replica in pool.Endpoints)
            {
                Follow(replica);
            }
            pool.Replaced += Follow;
        }
        EnvironmentRegistry.Add(this);
    }

    /// <summary>Streams one replica's log lines to the configured sink until the environment is disposed.</summary>
    private void Follow(ReplicaEndpoint replica) => _ = Task.Run(async () =>
    {
        try
        {
            await _backend.StreamLogsAsync(replica, line => _logLine!($"[{replica.Description}] {line}"), follow: true, _logStreaming.Token);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The environment is going away, the container is gone, or this backend has no logs to give.
        }
    });

    public string Name { get; }

    public IReadOnlyList<ReplicaEndpoint> Replicas => _pool.Endpoints;

    public Task<JsonElement> CallAsync(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentException.ThrowIfNullOrWhiteSpace(method);
        if (timeout is { } t && t <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), t, "a call's timeout must be positive");
        }
        return _pool.CallAsync(method, Serialize(method, args, kwargs), timeout ?? _options.DefaultCallTimeout, cancellationToken);
    }

    public async Task<T> CallAsync<T>(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var result = await CallAsync(method, args, kwargs, timeout, cancellationToken);
        try
        {
            return result.Deserialize<T>(ArgumentJson)!;
        }
        catch (JsonException e)
        {
            throw new RemoteActorException(method, null, $"the result does not read as {typeof(T).Name}: {e.Message}; it was {result.GetRawText()}", 200, null);
        }
    }

    private static byte[] Serialize(string method, IReadOnlyList<object?>? args, IReadOnlyDictionary<string, object?>? kwargs)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("method", method);
            writer.WritePropertyName("args");
            JsonSerializer.Serialize(writer, args ?? [], ArgumentJson);
            writer.WritePropertyName("kwargs");
            JsonSerializer.Serialize(writer, kwargs ?? new Dictionary<string, object?>(), ArgumentJson);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    public async Task<IReadOnlyList<MethodDescriptor>> ListMethodsAsync(CancellationToken cancellationToken = default)
    {
        var replica = Replicas[0];
        using var response = await _http.GetAsync(new Uri(replica.BaseUrl, WireRoutes.Methods), cancellationToken);
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

    public Task StreamLogsAsync(Action<string> sink, bool follow, CancellationToken cancellationToken = default) =>
        Task.WhenAll(Replicas.Select(r => _backend.StreamLogsAsync(r, line => sink($"[{r.Description}] {line}"), follow, cancellationToken)));

    /// <summary><c>env.evaluate(task_id: 1, _timeout: 360)</c>: named arguments are kwargs, <c>_timeout</c> (seconds) the deadline.</summary>
    public override bool TryInvokeMember(InvokeMemberBinder binder, object?[]? args, out object? result)
    {
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
        EnvironmentRegistry.Remove(this);
        await _logStreaming.CancelAsync();
        await _pool.DisposeAsync();
        await _backend.DisposeAsync();
        _http.Dispose();
        _logStreaming.Dispose();
        if (_logFile is not null)
        {
            lock (_logFile)
            {
                _logFile.Dispose();
            }
        }
    }
}
