using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Tests.Pooling;

/// <summary>What the pool offers episodes: the replica for a new one by open episodes, the count per replica, on fake time.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class EpisodePlacementTests
{
    [Fact]
    public async Task ReserveEpisode_PicksTheReplicaHoldingTheFewest_CountsIt_AndReleaseTakesItBack()
    {
        await using var scripted = await ScriptedPool.StartAsync(3);
        var pool = scripted.Pool;
        var picks = new List<ReplicaEndpoint>();
        for (var i = 0; i < 7; i++)
        {
            picks.Add(await pool.ReserveEpisodeAsync([], CancellationToken.None).Within());
        }
        Assert.Equal([3, 2, 2], pool.OpenEpisodes.Select(r => r.OpenEpisodes).OrderDescending());
        foreach (var replica in picks.Where(p => p == pool.Endpoints[0]).ToList())
        {
            pool.ReleaseEpisode(replica);
        }
        var next = await pool.ReserveEpisodeAsync([], CancellationToken.None).Within();
        Assert.Equal(pool.Endpoints[0], next); // it holds none now
        Assert.Equal(0, scripted.Backend.AllHosts.Sum(h => h.Calls)); // counting is the pool's alone: nothing was called
    }

    [Fact]
    public async Task ReserveEpisode_AvoidsTheReplicasGiven_AndFailsAtOnceWhenEveryOneWas()
    {
        await using var scripted = await ScriptedPool.StartAsync(2);
        var pool = scripted.Pool;
        var (first, second) = (pool.Endpoints[0], pool.Endpoints[1]);
        Assert.Equal(second, await pool.ReserveEpisodeAsync([first], CancellationToken.None).Within());
        Assert.Equal(second, await pool.ReserveEpisodeAsync([first], CancellationToken.None).Within()); // even holding more
        var refused = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => pool.ReserveEpisodeAsync([first, second], CancellationToken.None).Within());
        Assert.Equal("no replica of scripted could open an episode (each of the 2 tried failed)", refused.Message);
    }

    [Fact]
    public async Task ReserveEpisode_WhileNoReplicaTakesCalls_WaitsForOne_AndAGoneReplicasReleaseIsNothing()
    {
        // The replacement takes 2 s of the pool's time to start: long enough to see the pool without a replica.
        await using var scripted = await ScriptedPool.StartAsync(1, replacementDelay: TimeSpan.FromSeconds(2));
        var (pool, backend, clock) = (scripted.Pool, scripted.Backend, scripted.Clock);
        var dead = pool.Endpoints[0];
        await pool.ReserveEpisodeAsync([], CancellationToken.None).Within();
        await backend.KillAsync(dead);
        await clock.AdvanceUntilAsync(() => pool.ReadyCount == 0, "the killed replica leaving");

        var waiting = pool.ReserveEpisodeAsync([], CancellationToken.None);
        await clock.AdvanceUntilAsync(() => waiting.IsCompleted, "the replacement taking the episode");
        var replacement = await waiting.Within();
        Assert.NotEqual(dead, replacement);
        pool.ReleaseEpisode(dead); // its episode was lost with it: nothing to take back
        Assert.Equal([(replacement, 1)], pool.OpenEpisodes);
    }
}
