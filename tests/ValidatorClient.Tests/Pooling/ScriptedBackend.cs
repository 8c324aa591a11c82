using System.Collections.Concurrent;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Backends;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Tests.Pooling;

/// <summary>
/// A backend whose replicas are <see cref="ScriptedHost"/>s on 127.0.0.1, so that the pool's whole HTTP path runs
/// for real while a test decides when a replica hangs, refuses or dies. A replaced replica is a new host.
/// </summary>
internal sealed class ScriptedBackend(int count, bool canReplace = true, TimeProvider? time = null) : IBackend
{
    private readonly ConcurrentDictionary<string, ScriptedHost> _hosts = new();
    private readonly ConcurrentDictionary<string, bool> _stopped = new();
    private int _starts;
    private int _busy;

    /// <summary>Delays the start of replica i (by index) the first time it starts, on the backend's clock.</summary>
    public Func<int, TimeSpan> StartDelay { get; init; } = _ => TimeSpan.Zero;

    /// <summary>Delays every start of a replacement, on the backend's clock, so that the pool's time without it can be seen.</summary>
    public TimeSpan ReplacementDelay { get; init; }

    /// <summary>Whether a host is being started or stopped now (real work that no clock hurries).</summary>
    public bool Busy => Volatile.Read(ref _busy) > 0;

    public string Name => "scripted";

    public int ReplicaCount => count;

    public bool CanReplace => canReplace;

    /// <summary>How many replicas were started (replacements included).</summary>
    public int Starts => Volatile.Read(ref _starts);

    /// <summary>The live host of each endpoint id.</summary>
    public ScriptedHost Host(ReplicaEndpoint endpoint) => _hosts[endpoint.Id];

    public IReadOnlyList<ScriptedHost> AllHosts => [.. _hosts.Values];

    /// <summary>Whether the host at <paramref name="uri"/> holds requests to it instead of answering (hung, or a call to a wedged actor).</summary>
    public bool Holds(Uri uri) => _hosts.Values.FirstOrDefault(h => h.BaseUrl.Authority == uri.Authority) is { } host
        && (host.Behaviour == ScriptedBehaviour.Hung || (host.Behaviour == ScriptedBehaviour.CallsHang && uri.AbsolutePath == "/call"));

    public Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<ReplicaEndpoint> StartReplicaAsync(int index, CancellationToken cancellationToken)
    {
        var generation = Interlocked.Increment(ref _starts);
        var delay = generation <= count ? StartDelay(index) : ReplacementDelay;
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, time ?? TimeProvider.System, cancellationToken);
        }
        var host = await Working(() => ScriptedHost.StartAsync($"r{index}-g{generation}"));
        var endpoint = new ReplicaEndpoint(host.Name, host.BaseUrl, host.Name);
        _hosts[endpoint.Id] = host;
        return endpoint;
    }

    /// <summary>Stops a replica's host as a container dies: connections are refused and the backend reports it dead.</summary>
    public async Task KillAsync(ReplicaEndpoint endpoint)
    {
        _stopped[endpoint.Id] = true;
        await Working(async () => { await _hosts[endpoint.Id].StopAsync(); return true; });
    }

    public Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaEndpoint replica, CancellationToken cancellationToken) =>
        Task.FromResult(_stopped.ContainsKey(replica.Id) ? new EnvironmentUnavailableException($"{replica.Id} died", 137) : null);

    public async Task RemoveReplicaAsync(ReplicaEndpoint replica, CancellationToken cancellationToken)
    {
        if (canReplace && _hosts.TryGetValue(replica.Id, out var host) && _stopped.TryAdd(replica.Id, true))
        {
            await Working(async () => { await host.StopAsync(); return true; });
        }
    }

    private async Task<T> Working<T>(Func<Task<T>> work)
    {
        Interlocked.Increment(ref _busy);
        try
        {
            return await work();
        }
        finally
        {
            Interlocked.Decrement(ref _busy);
        }
    }

    public IAsyncEnumerable<string> ReadLogsAsync(ReplicaEndpoint replica, bool follow, CancellationToken cancellationToken) => AsyncEnumerable.Empty<string>();

    public async ValueTask DisposeAsync() => await Task.WhenAll(_hosts.Values.Select(h => h.DisposeAsync().AsTask()));
}
