using System.Collections.Concurrent;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Backends;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Tests.Pooling;

/// <summary>
/// A backend whose replicas are <see cref="ScriptedHost"/>s on 127.0.0.1, so that the pool's whole HTTP path runs
/// for real while a test decides when a replica hangs, refuses or dies. A replaced replica is a new host.
/// </summary>
internal sealed class ScriptedBackend(int count, bool canReplace = true) : IBackend
{
    private readonly ConcurrentDictionary<string, ScriptedHost> _hosts = new();
    private readonly ConcurrentDictionary<string, bool> _stopped = new();
    private int _starts;

    /// <summary>Delays the start of replica i (by index) the first time it starts.</summary>
    public Func<int, TimeSpan> StartDelay { get; init; } = _ => TimeSpan.Zero;

    public string Name => "scripted";

    public int ReplicaCount => count;

    public bool CanReplace => canReplace;

    /// <summary>How many replicas were started (replacements included).</summary>
    public int Starts => Volatile.Read(ref _starts);

    /// <summary>The live host of each endpoint id.</summary>
    public ScriptedHost Host(ReplicaEndpoint endpoint) => _hosts[endpoint.Id];

    public IReadOnlyList<ScriptedHost> AllHosts => [.. _hosts.Values];

    public Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<ReplicaEndpoint> StartReplicaAsync(int index, CancellationToken cancellationToken)
    {
        var generation = Interlocked.Increment(ref _starts);
        if (generation <= count)
        {
            await Task.Delay(StartDelay(index), cancellationToken);
        }
        var host = await ScriptedHost.StartAsync($"r{index}-g{generation}");
        var endpoint = new ReplicaEndpoint(host.Name, host.BaseUrl, host.Name);
        _hosts[endpoint.Id] = host;
        return endpoint;
    }

    /// <summary>Stops a replica's host as a container dies: connections are refused and the backend reports it dead.</summary>
    public async Task KillAsync(ReplicaEndpoint endpoint)
    {
        _stopped[endpoint.Id] = true;
        await _hosts[endpoint.Id].StopAsync();
    }

    public Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaEndpoint replica, CancellationToken cancellationToken) =>
        Task.FromResult(_stopped.ContainsKey(replica.Id) ? new EnvironmentUnavailableException($"{replica.Id} died", 137) : null);

    public async Task RemoveReplicaAsync(ReplicaEndpoint replica, CancellationToken cancellationToken)
    {
        if (canReplace && _hosts.TryGetValue(replica.Id, out var host) && _stopped.TryAdd(replica.Id, true))
        {
            await host.StopAsync();
        }
    }

    public IAsyncEnumerable<string> ReadLogsAsync(ReplicaEndpoint replica, bool follow, CancellationToken cancellationToken) => AsyncEnumerable.Empty<string>();

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts.Values)
        {
            await host.DisposeAsync();
        }
    }
}
