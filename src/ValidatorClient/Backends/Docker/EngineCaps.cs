using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.RateLimiting;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Backends.Docker;

/// <summary>
/// The caps of one client (<see cref="AffinetesClientOptions"/>) on the containers it creates, so that a runaway
/// evaluation cannot exhaust an engine: live containers of this client, live affinetes containers on each engine
/// (counted on the engine by their owner label, whoever started them), and creations per second.
/// A live cap that is reached refuses at once with <see cref="ContainerLimitException"/> (waiting could deadlock an
/// environment whose replicas wait for each other, and hides a leak); the creation rate waits its turn instead.
/// The per-engine count is exact among this client's environments (one creation at a time per engine) and
/// approximate across processes.
/// </summary>
internal sealed class EngineCaps : IDisposable
{
    private readonly AffinetesClientOptions _options;
    private readonly ConcurrencyLimiter _live;
    private readonly TokenBucketRateLimiter _rate;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _engineGates = new();
    private readonly ConcurrentDictionary<string, RateLimitLease> _slots = new();

    public EngineCaps(AffinetesClientOptions options)
    {
        options.Validate();
        _options = options;
        _live = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = options.MaxLiveContainers, QueueLimit = 0 });
        var burst = Math.Max(1, (int)Math.Floor(options.MaxContainerCreationsPerSecond));
        _rate = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1 / options.MaxContainerCreationsPerSecond),
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
    }

    /// <summary>
    /// Creates a container through <paramref name="create"/> once the caps allow it; its live slot is held until
    /// <see cref="Release"/>. Throws <see cref="ContainerLimitException"/> when a live cap is reached.
    /// </summary>
    public async Task<CreateContainerResponse> CreateAsync(EngineConnection engine, Func<Task<CreateContainerResponse>> create, ILogger logger, CancellationToken cancellationToken)
    {
        var slot = _live.AttemptAcquire();
        if (!slot.IsAcquired)
        {
            slot.Dispose();
            throw new ContainerLimitException(
                $"refused to start a container: this client already has {_options.MaxLiveContainers} live containers, its limit; " +
                "raise it with AffinetesClientOptions.MaxLiveContainers (afs --max-containers N), or release environments first",
                nameof(AffinetesClientOptions.MaxLiveContainers), _options.MaxLiveContainers);
        }
        try
        {
            using (var token = _rate.AttemptAcquire())
            {
                if (!token.IsAcquired)
                {
                    Log.CreationRateWait(logger, engine.Spec, _options.MaxContainerCreationsPerSecond);
                    using var queued = await _rate.AcquireAsync(1, cancellationToken);
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }
            var gate = _engineGates.GetOrAdd(engine.Spec, _ => new SemaphoreSlim(1, 1));
            await gate.WaitAsync(cancellationToken);
            try
            {
                var live = await CountLiveAsync(engine, cancellationToken);
                if (live >= _options.MaxLiveContainersPerEngine)
                {
                    throw new ContainerLimitException(
                        $"refused to start a container on {engine.Spec}: the engine already runs {live.ToString(CultureInfo.InvariantCulture)} affinetes containers " +
                        $"and the limit per engine is {_options.MaxLiveContainersPerEngine}; raise it with AffinetesClientOptions.MaxLiveContainersPerEngine " +
                        "(afs --max-engine-containers N), or remove leftovers (afs ps lists them, afs cleanup removes them)",
                        nameof(AffinetesClientOptions.MaxLiveContainersPerEngine), _options.MaxLiveContainersPerEngine);
                }
                var created = await create();
                _slots[created.ID] = slot;
                return created;
            }
            finally
            {
                gate.Release();
            }
        }
        catch
        {
            slot.Dispose();
            throw;
        }
    }

    /// <summary>Frees the live slot of a container this client created (removed, or found gone); nothing for others.</summary>
    public void Release(string containerId)
    {
        if (_slots.TryRemove(containerId, out var slot))
        {
            slot.Dispose();
        }
    }

    /// <summary>Our containers on the engine that are created, running, restarting or paused (not exited nor dead).</summary>
    private static async Task<int> CountLiveAsync(EngineConnection engine, CancellationToken cancellationToken)
    {
        var listed = await engine.Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{ContainerLabels.Owner}={ContainerLabels.OwnerValue}"] = true },
                ["status"] = new Dictionary<string, bool> { ["created"] = true, ["running"] = true, ["restarting"] = true, ["paused"] = true },
            },
        }, cancellationToken);
        return listed.Count;
    }

    public void Dispose()
    {
        foreach (var slot in _slots.Values)
        {
            slot.Dispose();
        }
        _slots.Clear();
        _live.Dispose();
        _rate.Dispose();
        foreach (var gate in _engineGates.Values)
        {
            gate.Dispose();
        }
    }
}
