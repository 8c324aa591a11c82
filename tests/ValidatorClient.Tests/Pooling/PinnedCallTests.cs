using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;

namespace Affinetes.ValidatorClient.Tests.Pooling;

/// <summary>
/// Calls for one replica alone (what an episode pinned to the replica that created it needs), and the word that a
/// replica was given up: over real HTTP to scripted hosts, on fake time.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class PinnedCallTests
{
    private static Task<JsonElement> CallReplica(ScriptedPool scripted, ReplicaEndpoint replica, object? x = null, string method = "echo", TimeSpan? timeout = null) =>
        scripted.Pool.CallReplicaAsync(replica, method, ScriptedPool.Body(method, x), timeout, CancellationToken.None);

    [Fact]
    public async Task CallReplica_GoesToThatReplicaAlone()
    {
        await using var scripted = await ScriptedPool.StartAsync(3);
        var pinned = scripted.Pool.Endpoints[2];
        for (var i = 0; i < 12; i++)
        {
            var result = await CallReplica(scripted, pinned, i).Within();
            Assert.Equal((pinned.Id, i), (ScriptedPool.ReplicaOf(result), result.GetProperty("echo").GetInt32()));
        }
        Assert.Equal([0L, 0L, 12L], scripted.Pool.Endpoints.Select(e => scripted.Backend.Host(e).Calls));
    }

    [Fact]
    public async Task CallReplica_ReadsTheActorsErrors_AndKeepsItsDeadline_WithoutTryingAnotherReplica()
    {
        await using var scripted = await ScriptedPool.StartAsync(2);
        var (pinned, other) = (scripted.Pool.Endpoints[0], scripted.Pool.Endpoints[1]);

        var raised = await Assert.ThrowsAsync<RemoteActorException>(() => CallReplica(scripted, pinned, method: "fail").Within());
        Assert.Equal("ValueError", raised.RemoteType);

        scripted.Backend.Host(pinned).Behaviour = ScriptedBehaviour.CallsHang;
        var call = CallReplica(scripted, pinned, timeout: TimeSpan.FromSeconds(2));
        await scripted.Clock.AdvanceUntilAsync(() => call.IsCompleted, "the pinned call past its deadline");
        var late = await Assert.ThrowsAsync<DeadlineExceededException>(() => call.Within());
        Assert.False(late.ServerSide);

        Assert.Equal(0, scripted.Backend.Host(other).Calls);
    }

    [Fact]
    public async Task ReplacedReplica_IsReportedRemoved_AndACallForItFailsSayingItIsGone()
    {
        await using var scripted = await ScriptedPool.StartAsync(2);
        var (pool, backend, clock) = (scripted.Pool, scripted.Backend, scripted.Clock);
        var removed = new ConcurrentQueue<(ReplicaEndpoint Replica, string Reason)>();
        pool.ReplicaRemoved += (replica, reason) => removed.Enqueue((replica, reason));
        var (pinned, other) = (pool.Endpoints[0], pool.Endpoints[1]);

        await backend.KillAsync(pinned);
        await clock.AdvanceUntilAsync(() => !removed.IsEmpty && pool.ReadyCount == 2, "the killed replica removed and replaced");

        var (replica, reason) = Assert.Single(removed);
        Assert.Equal(pinned, replica);
        Assert.Contains("died", reason);
        Assert.DoesNotContain(pinned, pool.Endpoints);
        var gone = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => CallReplica(scripted, pinned).Within());
        Assert.Contains($"replica {pinned.Description} of scripted is gone", gone.Message);
        Assert.Equal(0, backend.Host(other).Calls);
        Assert.Equal(0, backend.Host(pool.Endpoints.Single(e => e != other)).Calls); // nor its replacement
    }

    [Fact]
    public async Task ReplicaGivenUpWhileAPinnedCallRuns_FailsTheCall_InsteadOfSendingItElsewhere()
    {
        await using var scripted = await ScriptedPool.StartAsync(2);
        var (pool, backend, clock) = (scripted.Pool, scripted.Backend, scripted.Clock);
        var removed = new ConcurrentQueue<ReplicaEndpoint>();
        pool.ReplicaRemoved += (replica, _) => removed.Enqueue(replica);
        var (pinned, other) = (pool.Endpoints[0], pool.Endpoints[1]);
        backend.Host(pinned).BecomesOnNextCall = ScriptedBehaviour.Hung; // a paused container, with the call in it

        var call = CallReplica(scripted, pinned, 1); // "echo" is idempotent: a pool call would go to the other replica
        await clock.AdvanceUntilAsync(() => call.IsCompleted, "the pinned call on the hung replica ending");

        var gone = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => call.Within());
        Assert.Contains($"replica {pinned.Description} of scripted was given up while running echo and is gone", gone.Message);
        Assert.Equal([pinned], removed);
        Assert.Equal(0, backend.Host(other).Calls);
    }

    [Fact]
    public async Task CallReplica_IsTracedAsACall()
    {
        var name = $"pinned-{Guid.NewGuid():N}";
        var activities = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == AffinetesTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (a.GetTagItem("affinetes.environment") as string == name)
                {
                    activities.Enqueue(a);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var scripted = await ScriptedPool.StartAsync(2, name: name);
        var pinned = scripted.Pool.Endpoints[1];

        await CallReplica(scripted, pinned, 1).Within();
        await scripted.Backend.KillAsync(pinned);
        await scripted.Clock.AdvanceUntilAsync(() => !scripted.Pool.Endpoints.Contains(pinned), "the killed replica removed");
        await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => CallReplica(scripted, pinned, 2).Within());

        Assert.Equal([("success", 1, pinned.Description), ("unavailable", 0, null)],
            activities.Select(a => ((string?)a.GetTagItem("affinetes.outcome"), (int?)a.GetTagItem("affinetes.attempts"), (string?)a.GetTagItem("affinetes.replica"))));
    }
}
