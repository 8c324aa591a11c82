using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Pooling;
using Microsoft.Extensions.Logging.Abstractions;

namespace Affinetes.ValidatorClient.Tests.Pooling;

/// <summary>A started pool over scripted hosts on 127.0.0.1, its backend and its fake clock; disposing it releases all three.</summary>
internal sealed class ScriptedPool : IAsyncDisposable
{
    /// <summary>Probes every 100 ms of the pool's time, so that a hung replica is found in a few steps of the clock.</summary>
    public static readonly ReplicaHealthOptions FastHealth = new()
    {
        ProbeInterval = TimeSpan.FromMilliseconds(100),
        ProbeTimeout = TimeSpan.FromMilliseconds(300),
        UnresponsiveAfterProbes = 2,
        ReplaceAfter = TimeSpan.FromSeconds(1),
        ReactivationPeriod = TimeSpan.FromMilliseconds(500),
    };

    private readonly HttpClient _http;

    private ScriptedPool(ReplicaPool pool, ScriptedBackend backend, HttpClient http, PoolClock clock)
    {
        Pool = pool;
        Backend = backend;
        _http = http;
        Clock = clock;
    }

    public ReplicaPool Pool { get; }

    public ScriptedBackend Backend { get; }

    public PoolClock Clock { get; }

    /// <summary>
    /// Starts <paramref name="replicas"/> scripted hosts behind a pool on a fake clock (with <see cref="FastHealth"/>
    /// unless <paramref name="options"/> set their own) and waits until it is usable.
    /// </summary>
    public static async Task<ScriptedPool> StartAsync(int replicas, EnvironmentOptions? options = null, bool canReplace = true,
        Func<int, TimeSpan>? startDelay = null, string name = "scripted", TimeSpan replacementDelay = default)
    {
        options ??= new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = ["http://unused"] };
        options = options with { Replicas = replicas, Health = options.Health == new ReplicaHealthOptions() ? FastHealth : options.Health };
        var clock = new PoolClock();
        var backend = new ScriptedBackend(replicas, canReplace, clock.Time) { StartDelay = startDelay ?? (_ => TimeSpan.Zero), ReplacementDelay = replacementDelay };
        clock.Backend = backend;
        var http = new HttpClient(clock.CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        var pool = new ReplicaPool(name, backend, options, http, NullLogger.Instance, clock.Time);
        await pool.ProvisionAsync(CancellationToken.None).Within();
        return new ScriptedPool(pool, backend, http, clock);
    }

    /// <summary>The <c>/call</c> body of a scripted host's method: it answers <paramref name="x"/> after <paramref name="sleepMs"/>.</summary>
    public static byte[] Body(string method, object? x, int sleepMs = 0) =>
        WireValues.CallBody(method, null, new Dictionary<string, object?> { ["x"] = x, ["sleep_ms"] = sleepMs });

    /// <summary>The name of the scripted host that answered.</summary>
    public static string ReplicaOf(JsonElement result) => result.GetProperty("replica").GetString()!;

    public async ValueTask DisposeAsync()
    {
        await Pool.DisposeAsync();
        _http.Dispose();
        await Backend.DisposeAsync();
    }
}
