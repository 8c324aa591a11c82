using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>Picks the replica for a call among those that may take it (YARP's load-balancing policies are the model).</summary>
internal interface ILoadBalancingPolicy
{
    /// <summary>One of <paramref name="candidates"/> (never empty).</summary>
    Replica Pick(ReadOnlySpan<Replica> candidates);

    public static ILoadBalancingPolicy For(LoadBalance kind) => kind switch
    {
        LoadBalance.Random => new RandomPolicy(),
        LoadBalance.LeastBusy => new LeastBusyPolicy(),
        _ => new RoundRobinPolicy(),
    };
}

/// <summary>Each candidate in turn. The turn counts over the candidates, so a replica that is down spreads its share evenly.</summary>
internal sealed class RoundRobinPolicy : ILoadBalancingPolicy
{
    private uint _next = uint.MaxValue;

    public Replica Pick(ReadOnlySpan<Replica> candidates) => candidates[(int)(Interlocked.Increment(ref _next) % (uint)candidates.Length)];
}

/// <summary>A candidate at random.</summary>
internal sealed class RandomPolicy : ILoadBalancingPolicy
{
    public Replica Pick(ReadOnlySpan<Replica> candidates) => candidates[Random.Shared.Next(candidates.Length)];
}

/// <summary>The candidate with the fewest calls in flight; ties go round the candidates in turn, so that an idle pool still spreads.</summary>
internal sealed class LeastBusyPolicy : ILoadBalancingPolicy
{
    private uint _next = uint.MaxValue;

    public Replica Pick(ReadOnlySpan<Replica> candidates)
    {
        var start = (int)(Interlocked.Increment(ref _next) % (uint)candidates.Length);
        var best = candidates[start];
        for (var i = 1; i < candidates.Length; i++)
        {
            var candidate = candidates[(start + i) % candidates.Length];
            if (candidate.InFlight < best.InFlight)
            {
                best = candidate;
            }
        }
        return best;
    }
}

/// <summary>
/// For a new episode: the candidate with the fewest open episodes (an episode stays on the replica that opened it, so
/// the count, not the calls in flight, is what a replica carries); ties go round the candidates in turn.
/// </summary>
internal sealed class FewestEpisodesPolicy : ILoadBalancingPolicy
{
    private uint _next = uint.MaxValue;

    public Replica Pick(ReadOnlySpan<Replica> candidates)
    {
        var start = (int)(Interlocked.Increment(ref _next) % (uint)candidates.Length);
        var best = candidates[start];
        for (var i = 1; i < candidates.Length; i++)
        {
            var candidate = candidates[(start + i) % candidates.Length];
            if (candidate.OpenEpisodes < best.OpenEpisodes)
            {
                best = candidate;
            }
        }
        return best;
    }
}
