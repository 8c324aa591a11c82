using Affinetes.Testing;
using Affinetes.ValidatorClient.Backends;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Pooling;

namespace Affinetes.ValidatorClient.Tests.Pooling;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class LoadBalancingPolicyTests
{
    private static Replica[] Replicas(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new Replica(i, new ReplicaEndpoint($"r{i}", new Uri($"http://127.0.0.1:{1000 + i}/"), $"r{i}"),
            new ReplicaHealth(new ReplicaHealthOptions(), TimeProvider.System)))];

    private static Dictionary<string, int> Spread(ILoadBalancingPolicy policy, Replica[] candidates, int picks)
    {
        var counts = candidates.ToDictionary(r => r.Endpoint.Id, _ => 0);
        for (var i = 0; i < picks; i++)
        {
            counts[policy.Pick(candidates).Endpoint.Id]++;
        }
        return counts;
    }

    [Fact]
    public void RoundRobin_TakesEachInTurn()
    {
        var replicas = Replicas(3);
        var policy = new RoundRobinPolicy();
        Assert.Equal(["r0", "r1", "r2", "r0", "r1"], Enumerable.Range(0, 5).Select(_ => policy.Pick(replicas).Endpoint.Id));
    }

    [Fact]
    public void RoundRobin_OverWhatIsLeft_SpreadsADownReplicasShareEvenly()
    {
        var replicas = Replicas(3);
        var policy = new RoundRobinPolicy();
        var counts = Spread(policy, [replicas[0], replicas[2]], 1000);
        Assert.Equal(500, counts["r0"]);
        Assert.Equal(500, counts["r2"]);
    }

    [Fact]
    public void Random_ReachesEveryCandidate()
    {
        var counts = Spread(new RandomPolicy(), Replicas(4), 4000);
        Assert.All(counts.Values, c => Assert.InRange(c, 800, 1200));
    }

    [Fact]
    public void FewestEpisodes_PicksTheReplicaHoldingTheFewestOpenEpisodes_NotTheFewestCalls()
    {
        var replicas = Replicas(3);
        replicas[0].AddOpenEpisodes(2);
        replicas[1].AddOpenEpisodes(1);
        replicas[2].AddOpenEpisodes(3);
        replicas[1].Enter(); // busy with a call, yet holding the fewest episodes
        Assert.Equal("r1", new FewestEpisodesPolicy().Pick(replicas).Endpoint.Id);
    }

    [Fact]
    public void FewestEpisodes_CountedAsTheyOpen_SpreadEvenly()
    {
        var replicas = Replicas(3);
        var policy = new FewestEpisodesPolicy();
        for (var i = 0; i < 30; i++)
        {
            policy.Pick(replicas).AddOpenEpisodes(1);
        }
        Assert.Equal([10, 10, 10], replicas.Select(r => r.OpenEpisodes));
    }

    [Fact]
    public void LeastBusy_PicksTheFewestInFlight()
    {
        var replicas = Replicas(3);
        replicas[0].Enter();
        replicas[0].Enter();
        replicas[2].Enter();
        Assert.Equal("r1", new LeastBusyPolicy().Pick(replicas).Endpoint.Id);
    }

    [Fact]
    public void LeastBusy_SpreadsTiesInTurn()
    {
        var counts = Spread(new LeastBusyPolicy(), Replicas(3), 300);
        Assert.All(counts.Values, c => Assert.Equal(100, c));
    }

    [Theory]
    [InlineData(LoadBalance.RoundRobin, typeof(RoundRobinPolicy))]
    [InlineData(LoadBalance.Random, typeof(RandomPolicy))]
    [InlineData(LoadBalance.LeastBusy, typeof(LeastBusyPolicy))]
    public void Option_SelectsThePolicy(LoadBalance option, Type policy) => Assert.IsType(policy, ILoadBalancingPolicy.For(option));
}
