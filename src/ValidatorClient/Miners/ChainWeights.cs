namespace Affinetes.ValidatorClient.Miners;

/// <summary>
/// Weights in the form <c>set_weights</c> takes them on chain, by the Bittensor SDK's rule before it emits them
/// (<c>bittensor/utils/weight_utils.py</c>, <c>convert_weights_and_uids_for_emit</c>): every weight divided by the largest,
/// times 65535 (u16::MAX), rounded half to even as Python's <c>round</c> does; uids whose weight rounds to 0 are left
/// out; all-zero scores give empty vectors (nothing to set).
/// </summary>
public static class ChainWeights
{
    private const double U16Max = ushort.MaxValue;

    /// <summary>The uids and u16 weights to hand to <c>set_weights</c>, in the order given.</summary>
    /// <param name="scores">Each miner's uid and score: finite, not negative, each uid once (the chain refuses duplicates).</param>
    public static (ushort[] Uids, ushort[] Weights) FromScores(IReadOnlyList<(ushort Uid, double Score)> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var seen = new HashSet<ushort>();
        foreach (var (uid, score) in scores)
        {
            if (!double.IsFinite(score) || score < 0)
            {
                throw new ArgumentException($"uid {uid} has score {score}: weights on chain are finite and not negative", nameof(scores));
            }
            if (!seen.Add(uid))
            {
                throw new ArgumentException($"uid {uid} is given twice: the chain refuses weights with duplicate uids", nameof(scores));
            }
        }
        // The SDK tests the sum, not the maximum, for "nothing to set"; with no negative weights the two agree.
        if (scores.Sum(s => s.Score) == 0)
        {
            return ([], []);
        }
        var max = scores.Max(s => s.Score);
        var uids = new List<ushort>(scores.Count);
        var weights = new List<ushort>(scores.Count);
        foreach (var (uid, score) in scores)
        {
            // Same operations in the same order as the SDK: (w / max) * 65535, then round half to even.
            var weight = Math.Round(score / max * U16Max, MidpointRounding.ToEven);
            if (weight != 0)
            {
                uids.Add(uid);
                weights.Add((ushort)weight);
            }
        }
        return ([.. uids], [.. weights]);
    }
}
