using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Pooling;

namespace Affinetes.ValidatorClient.Tests.Pooling;

/// <summary>
/// The pool over real HTTP to scripted hosts on 127.0.0.1: balancing, failover, hung and dead replicas, replacement.
/// No Docker: a logic change is checked in seconds; the Docker tier keeps the end-to-end proof. The pool runs on fake
/// time (<see cref="PoolClock"/>): waiting for probes, deadlines and replacements advances it instead of sleeping.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class ReplicaPoolTests
{
    private static Task<ScriptedPool> StartAsync(int replicas, EnvironmentOptions? options = null, bool canReplace = true,
        Func<int, TimeSpan>? startDelay = null) => ScriptedPool.StartAsync(replicas, options, canReplace, startDelay);

    private static Task<JsonElement> Call(ReplicaPool pool, object? x = null, string method = "echo", int sleepMs = 0, TimeSpan? timeout = null) =>
        pool.CallAsync(method, ScriptedPool.Body(method, x, sleepMs), timeout, CancellationToken.None);

    private static string ReplicaOf(JsonElement result) => ScriptedPool.ReplicaOf(result);

    [Fact]
    public async Task RoundRobin_WithOneReplicaDown_SpreadsItsShareEvenly()
    {
        // A backend that cannot replace it: the replica stays down for the whole test.
        await using var scripted = await StartAsync(3, canReplace: false);
        var (pool, backend, clock) = (scripted.Pool, scripted.Backend, scripted.Clock);
        var down = pool.Endpoints[0];
        await backend.KillAsync(down);
        await clock.AdvanceUntilAsync(() => pool.ReadyCount == 2, "the dead replica leaving the rotation");

        var counts = new Dictionary<string, int>();
        for (var i = 0; i < 200; i++)
        {
            var replica = ReplicaOf(await Call(pool, i).Within());
            counts[replica] = counts.GetValueOrDefault(replica) + 1;
        }
        Assert.DoesNotContain(down.Id, counts.Keys);
        // The two live replicas share the calls evenly: neither gets the dead one's turns.
        Assert.Equal(2, counts.Count);
        Assert.All(counts.Values, c => Assert.Equal(100, c));
    }

    [Fact]
    public async Task HungReplica_IsSkipped_ItsCallsFailOver_AndItIsReplaced()
    {
        await using var scripted = await StartAsync(3);
        var (pool, backend, clock) = (scripted.Pool, scripted.Backend, scripted.Clock);
        var hung = pool.Endpoints[1];
        var hungHost = backend.Host(hung);

        // Calls in flight on every replica when one of them stops answering (a paused container): it hangs as its
        // first call arrives, so none of its calls can be answered first however slowly this machine runs.
        hungHost.BecomesOnNextCall = ScriptedBehaviour.Hung;
        var inFlight = Enumerable.Range(0, 30).Select(i => Call(pool, i, sleepMs: 50)).ToList();

        await clock.AdvanceUntilAsync(() => inFlight.All(c => c.IsCompleted), "the calls in flight on the hung replica failing over");
        var results = await Task.WhenAll(inFlight).Within();
        Assert.Equal(30, results.Length);
        Assert.Equal(Enumerable.Range(0, 30), results.Select(r => r.GetProperty("echo").GetInt32()));
        Assert.DoesNotContain(results, r => ReplicaOf(r) == hung.Id);
        Assert.True(hungHost.Calls > 0, "no call went to the replica that hung: the test proved nothing");

        await clock.AdvanceUntilAsync(() => backend.Starts == 4 && pool.ReadyCount == 3, "a replacement for the hung replica");
        Assert.DoesNotContain(pool.Endpoints, e => e.Id == hung.Id);
        for (var i = 0; i < 30; i++)
        {
            Assert.NotEqual(hung.Id, ReplicaOf(await Call(pool, i).Within()));
        }
    }

    [Fact]
    public async Task HungReplica_WithANonIdempotentMethod_FailsTheCallInsteadOfSendingItTwice()
    {
        var options = new EnvironmentOptions
        {
            Mode = EnvironmentMode.Url,
            BaseUrls = ["http://unused"],
            NonIdempotentMethods = new HashSet<string> { "charge" },
        };
        await using var scripted = await StartAsync(2, options);
        var (pool, backend, clock) = (scripted.Pool, scripted.Backend, scripted.Clock);
        var hungHost = backend.Host(pool.Endpoints[0]);
        var otherHost = backend.Host(pool.Endpoints[1]);
        hungHost.Behaviour = ScriptedBehaviour.Hung;
        // Round robin: the first call goes to replica 0, which hangs.
        var charge = Call(pool, 1, method: "charge");
        await clock.AdvanceUntilAsync(() => charge.IsCompleted, "the call on the hung replica ending");
        var e = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => charge.Within());
        Assert.Contains("not idempotent", e.Message);
        Assert.Equal(0, otherHost.Calls);
    }

    [Fact]
    public async Task KilledReplica_LosesNoCall_AndIsReplaced()
    {
        await using var scripted = await StartAsync(2);
        var (pool, backend, clock) = (scripted.Pool, scripted.Backend, scripted.Clock);
        var victim = pool.Endpoints[0];
        using var stop = new CancellationTokenSource();
        var answered = 0;
        var load = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Call(pool, 1, sleepMs: 5);
                Interlocked.Increment(ref answered);
            }
        })).ToList();
        await clock.AdvanceUntilAsync(() => Volatile.Read(ref answered) > 50, "load running");
        await backend.KillAsync(victim);
        await clock.AdvanceUntilAsync(() => backend.Starts == 3 && pool.ReadyCount == 2, "the replacement of the killed replica");
        var before = Volatile.Read(ref answered);
        await clock.AdvanceUntilAsync(() => Volatile.Read(ref answered) > before + 50, "calls going on after the replacement");
        await stop.CancelAsync();
        await Task.WhenAll(load).Within(); // any failed call would have thrown here
    }

    [Fact]
    public async Task RefusingReplica_GetsNoCallThrough_AndStaysHealthy()
    {
        await using var scripted = await StartAsync(2);
        var (pool, backend) = (scripted.Pool, scripted.Backend);
        backend.Host(pool.Endpoints[0]).Behaviour = ScriptedBehaviour.Refusing;
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(pool.Endpoints[1].Id, ReplicaOf(await Call(pool, i).Within()));
        }
        Assert.All(pool.Stats(), s => Assert.True(s.Healthy, $"{s.Description} is {s.State}"));
    }

    [Fact]
    public async Task ActorErrors_CountAsFailures_ButLeaveTheReplicaHealthy()
    {
        await using var scripted = await StartAsync(1);
        var (pool, backend) = (scripted.Pool, scripted.Backend);
        for (var i = 0; i < 10; i++)
        {
            await Assert.ThrowsAsync<RemoteActorException>(() => Call(pool, i, method: "fail").Within());
        }
        var stats = Assert.Single(pool.Stats());
        Assert.Equal(10, stats.Failures);
        Assert.True(stats.Healthy);
        Assert.Equal(0, backend.Starts - 1); // never replaced
    }

    [Fact]
    public async Task DeadlinesMissedOnOneReplica_MakeItUnhealthy_WhileItStillAnswersProbes()
    {
        var options = new EnvironmentOptions
        {
            Mode = EnvironmentMode.Url,
            BaseUrls = ["http://unused"],
            Health = ScriptedPool.FastHealth with { ReactivationPeriod = TimeSpan.FromSeconds(30), ReplaceAfter = TimeSpan.FromMinutes(5) },
        };
        await using var scripted = await StartAsync(3, options);
        var (pool, backend, clock) = (scripted.Pool, scripted.Backend, scripted.Clock);
        var wedged = pool.Endpoints[0];
        backend.Host(wedged).Behaviour = ScriptedBehaviour.CallsHang; // its /ready answers, its calls never do
        var failures = 0;
        for (var i = 0; i < 60; i++)
        {
            var call = Call(pool, i, timeout: TimeSpan.FromMilliseconds(200));
            await clock.AdvanceUntilAsync(() => call.IsCompleted, $"call {i} answered or past its deadline");
            try
            {
                var result = await call.Within();
                Assert.NotEqual(wedged.Id, ReplicaOf(result));
            }
            catch (DeadlineExceededException)
            {
                failures++;
            }
        }
        Assert.False(pool.Stats().Single(s => s.Id == wedged.Id).Healthy);
        // Its failure rate takes it out after MinimumCalls (5) missed deadlines: not one call in three for ever.
        Assert.Equal(5, failures);
    }

    [Fact]
    public async Task MinReadyReplicas_ReturnsWithTheFirst_TheSlowOneJoinsLater()
    {
        var options = new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = ["http://unused"], MinReadyReplicas = 1 };
        // Replica 1 starts 2 s of the pool's time late, and that time passes only when the test advances it.
        await using var scripted = await StartAsync(2, options, startDelay: i => i == 1 ? TimeSpan.FromSeconds(2) : TimeSpan.Zero);
        var (pool, clock) = (scripted.Pool, scripted.Clock);
        Assert.Equal(1, pool.ReadyCount);
        Assert.Single(pool.Endpoints);
        await Call(pool, 1).Within();
        await clock.AdvanceUntilAsync(() => pool.ReadyCount == 2, "the slow replica joining");
        Assert.True(clock.Time.GetUtcNow() - clock.Time.Start >= TimeSpan.FromSeconds(2), "the slow replica joined before its start delay passed");
    }

    [Fact]
    public async Task EveryReplicaDown_CallsWaitForTheReplacement_WithinTheirDeadline()
    {
        await using var scripted = await StartAsync(1);
        var (pool, backend, clock) = (scripted.Pool, scripted.Backend, scripted.Clock);
        await backend.KillAsync(pool.Endpoints[0]);
        // The call is made while the only replica is dead: it fails over to nothing, waits for the replacement, is answered.
        var call = Call(pool, 7, timeout: TimeSpan.FromSeconds(15));
        await clock.AdvanceUntilAsync(() => call.IsCompleted, "the call answered by the replacement");
        var result = await call.Within();
        Assert.Equal(7, result.GetProperty("echo").GetInt32());
        Assert.Equal(2, backend.Starts);
    }

    [Fact]
    public async Task UrlReplicaThatStopsAnswering_IsSkipped_AndTakesCallsAgainWhenItAnswers()
    {
        await using var scripted = await StartAsync(2, canReplace: false);
        var (pool, backend, clock) = (scripted.Pool, scripted.Backend, scripted.Clock);
        var flaky = backend.Host(pool.Endpoints[0]);
        flaky.Behaviour = ScriptedBehaviour.Hung;
        await clock.AdvanceUntilAsync(() => pool.ReadyCount == 1, "the hung server being skipped");
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(pool.Endpoints[1].Id, ReplicaOf(await Call(pool, i).Within()));
        }
        flaky.Behaviour = ScriptedBehaviour.Serving;
        await clock.AdvanceUntilAsync(() => pool.ReadyCount == 2, "the server taking calls again");
        Assert.Equal(2, backend.Starts); // a server we did not start is never replaced
    }
}
