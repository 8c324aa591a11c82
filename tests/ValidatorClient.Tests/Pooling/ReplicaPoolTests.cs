using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Pooling;
using Microsoft.Extensions.Logging.Abstractions;

namespace Affinetes.ValidatorClient.Tests.Pooling;

/// <summary>
/// The pool over real HTTP to scripted hosts on 127.0.0.1: balancing, failover, hung and dead replicas, replacement.
/// No Docker: a logic change is checked in seconds; the Docker tier keeps the end-to-end proof.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class ReplicaPoolTests
{
    /// <summary>Probes fast, so that the hung-replica cases take a second or two instead of ten.</summary>
    private static readonly ReplicaHealthOptions FastHealth = new()
    {
        ProbeInterval = TimeSpan.FromMilliseconds(100),
        ProbeTimeout = TimeSpan.FromMilliseconds(300),
        UnresponsiveAfterProbes = 2,
        ReplaceAfter = TimeSpan.FromSeconds(1),
        ReactivationPeriod = TimeSpan.FromMilliseconds(500),
    };

    private static async Task<(ReplicaPool Pool, ScriptedBackend Backend, HttpClient Http)> StartAsync(int replicas, EnvironmentOptions? options = null, ScriptedBackend? backend = null)
    {
        options ??= new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = ["http://unused"] };
        options = options with { Replicas = replicas, Health = options.Health == new ReplicaHealthOptions() ? FastHealth : options.Health };
        backend ??= new ScriptedBackend(replicas);
        var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var pool = new ReplicaPool("scripted", backend, options, http, NullLogger.Instance);
        await pool.ProvisionAsync(CancellationToken.None).Within();
        return (pool, backend, http);
    }

    private static Task<JsonElement> Call(ReplicaPool pool, object? x = null, string method = "echo", int sleepMs = 0, TimeSpan? timeout = null) =>
        pool.CallAsync(method, WireValues.CallBody(method, null, new Dictionary<string, object?> { ["x"] = x, ["sleep_ms"] = sleepMs }), timeout, CancellationToken.None);

    private static string ReplicaOf(JsonElement result) => result.GetProperty("replica").GetString()!;

    [Fact]
    public async Task RoundRobin_WithOneReplicaDown_SpreadsItsShareEvenly()
    {
        // A backend that cannot replace it: the replica stays down for the whole test.
        var (pool, backend, http) = await StartAsync(3, backend: new ScriptedBackend(3, canReplace: false));
        await using var _ = pool;
        using var __ = http;
        await using var ___ = backend;
        var down = pool.Endpoints[0];
        await backend.KillAsync(down);
        await Bounded.Until(() => Task.FromResult(pool.ReadyCount == 2), TimeSpan.FromSeconds(10), "the dead replica leaving the rotation");

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
        var (pool, backend, http) = await StartAsync(3);
        await using var _ = pool;
        using var __ = http;
        await using var ___ = backend;
        var hung = pool.Endpoints[1];
        var hungHost = backend.Host(hung);

        // Calls in flight on every replica when one of them stops answering (a paused container): it hangs as its
        // first call arrives, so none of its calls can be answered first however slowly this machine runs.
        hungHost.BecomesOnNextCall = ScriptedBehaviour.Hung;
        var inFlight = Enumerable.Range(0, 30).Select(i => Call(pool, i, sleepMs: 300)).ToList();

        var results = await Task.WhenAll(inFlight).Within(TimeSpan.FromSeconds(15), "the calls in flight on the hung replica failing over");
        Assert.Equal(30, results.Length);
        Assert.Equal(Enumerable.Range(0, 30), results.Select(r => r.GetProperty("echo").GetInt32()));
        Assert.DoesNotContain(results, r => ReplicaOf(r) == hung.Id);

        await Bounded.Until(() => Task.FromResult(backend.Starts == 4 && pool.ReadyCount == 3), TimeSpan.FromSeconds(10), "a replacement for the hung replica");
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
        var (pool, backend, http) = await StartAsync(2, options);
        await using var _ = pool;
        using var __ = http;
        await using var ___ = backend;
        var hungHost = backend.Host(pool.Endpoints[0]);
        var otherHost = backend.Host(pool.Endpoints[1]);
        hungHost.Behaviour = ScriptedBehaviour.Hung;
        // Round robin: the first call goes to replica 0, which hangs.
        var charge = Call(pool, 1, method: "charge");
        var e = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => charge.Within(TimeSpan.FromSeconds(10)));
        Assert.Contains("not idempotent", e.Message);
        Assert.Equal(0, otherHost.Calls);
    }

    [Fact]
    public async Task KilledReplica_LosesNoCall_AndIsReplaced()
    {
        var (pool, backend, http) = await StartAsync(2);
        await using var _ = pool;
        using var __ = http;
        await using var ___ = backend;
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
        await Bounded.Until(() => Task.FromResult(Volatile.Read(ref answered) > 50), TimeSpan.FromSeconds(10), "load running");
        await backend.KillAsync(victim);
        await Bounded.Until(() => Task.FromResult(backend.Starts == 3 && pool.ReadyCount == 2), TimeSpan.FromSeconds(15), "the replacement of the killed replica");
        var before = Volatile.Read(ref answered);
        await Bounded.Until(() => Task.FromResult(Volatile.Read(ref answered) > before + 50), TimeSpan.FromSeconds(10), "calls going on after the replacement");
        await stop.CancelAsync();
        await Task.WhenAll(load).Within(); // any failed call would have thrown here
    }

    [Fact]
    public async Task RefusingReplica_GetsNoCallThrough_AndStaysHealthy()
    {
        var (pool, backend, http) = await StartAsync(2);
        await using var _ = pool;
        using var __ = http;
        await using var ___ = backend;
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
        var (pool, backend, http) = await StartAsync(1);
        await using var _ = pool;
        using var __ = http;
        await using var ___ = backend;
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
            Health = FastHealth with { ReactivationPeriod = TimeSpan.FromSeconds(30), ReplaceAfter = TimeSpan.FromMinutes(5) },
        };
        var (pool, backend, http) = await StartAsync(3, options);
        await using var _ = pool;
        using var __ = http;
        await using var ___ = backend;
        var wedged = pool.Endpoints[0];
        backend.Host(wedged).Behaviour = ScriptedBehaviour.CallsHang; // its /ready answers, its calls never do
        var failures = 0;
        for (var i = 0; i < 60; i++)
        {
            try
            {
                var result = await Call(pool, i, timeout: TimeSpan.FromMilliseconds(200)).Within();
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
        var backend = new ScriptedBackend(2) { StartDelay = i => i == 1 ? TimeSpan.FromSeconds(2) : TimeSpan.Zero };
        var options = new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = ["http://unused"], MinReadyReplicas = 1 };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (pool, _, http) = await StartAsync(2, options, backend);
        var loaded = clock.Elapsed;
        await using var _ = pool;
        using var __ = http;
        await using var ___ = backend;
        Assert.Equal(1, pool.ReadyCount);
        Assert.True(loaded < TimeSpan.FromSeconds(1.5), $"loading waited {loaded} for the slow replica");
        await Call(pool, 1).Within();
        await Bounded.Until(() => Task.FromResult(pool.ReadyCount == 2), TimeSpan.FromSeconds(10), "the slow replica joining");
    }

    [Fact]
    public async Task EveryReplicaDown_CallsWaitForTheReplacement_WithinTheirDeadline()
    {
        var (pool, backend, http) = await StartAsync(1);
        await using var _ = pool;
        using var __ = http;
        await using var ___ = backend;
        await backend.KillAsync(pool.Endpoints[0]);
        // The call is made while the only replica is dead: it fails over to nothing, waits for the replacement, is answered.
        var result = await Call(pool, 7, timeout: TimeSpan.FromSeconds(15)).Within(TimeSpan.FromSeconds(20));
        Assert.Equal(7, result.GetProperty("echo").GetInt32());
        Assert.Equal(2, backend.Starts);
    }

    [Fact]
    public async Task UrlReplicaThatStopsAnswering_IsSkipped_AndTakesCallsAgainWhenItAnswers()
    {
        var backend = new ScriptedBackend(2, canReplace: false);
        var (pool, _, http) = await StartAsync(2, backend: backend);
        await using var _ = pool;
        using var __ = http;
        await using var ___ = backend;
        var flaky = backend.Host(pool.Endpoints[0]);
        flaky.Behaviour = ScriptedBehaviour.Hung;
        await Bounded.Until(() => Task.FromResult(pool.ReadyCount == 1), TimeSpan.FromSeconds(5), "the hung server being skipped");
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(pool.Endpoints[1].Id, ReplicaOf(await Call(pool, i).Within()));
        }
        flaky.Behaviour = ScriptedBehaviour.Serving;
        await Bounded.Until(() => Task.FromResult(pool.ReadyCount == 2), TimeSpan.FromSeconds(5), "the server taking calls again");
        Assert.Equal(2, backend.Starts); // a server we did not start is never replaced
    }
}
