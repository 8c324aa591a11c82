using Affinetes.Testing;
using Affinetes.ValidatorClient.Miners;

namespace Affinetes.ValidatorClient.Tests.Miners;

/// <summary>
/// <see cref="ChainWeights"/> against the SDK's <c>convert_weights_and_uids_for_emit</c>, worked by hand: weight / max
/// times 65535, rounded half to even (Python's <c>round</c>), zeros dropped.
/// </summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ChainWeightsTests
{
    [Fact]
    public void FromScores_MaxIs65535_HalfRoundsToEven_ZeroDropped()
    {
        // 1.0/1.0*65535 = 65535; 0.5*65535 = 32767.5, half to even: 32768; 0 is dropped.
        var (uids, weights) = ChainWeights.FromScores([(0, 1.0), (1, 0.5), (2, 0.0)]);
        Assert.Equal(new ushort[] { 0, 1 }, uids);
        Assert.Equal(new ushort[] { 65535, 32768 }, weights);
    }

    [Fact]
    public void FromScores_ScalesByTheLargestNotTheSum()
    {
        // 0.1/0.7*65535 = 9362.14 -> 9362; 0.2/0.7*65535 = 18724.29 -> 18724.
        var (uids, weights) = ChainWeights.FromScores([(5, 0.1), (9, 0.7), (200, 0.2)]);
        Assert.Equal(new ushort[] { 5, 9, 200 }, uids);
        Assert.Equal(new ushort[] { 9362, 65535, 18724 }, weights);
    }

    [Theory]
    [InlineData(2.5, 2)] // 2.5 exactly: half to even goes down (away from zero would give 3)
    [InlineData(3.5, 4)] // 3.5 exactly: half to even goes up
    [InlineData(1.5, 2)]
    public void FromScores_ExactHalves_RoundToEvenAsPython(double score, int expected)
    {
        var (uids, weights) = ChainWeights.FromScores([(0, 65535.0), (1, score)]);
        Assert.Equal(new ushort[] { 0, 1 }, uids);
        Assert.Equal(new ushort[] { 65535, (ushort)expected }, weights);
    }

    [Theory]
    [InlineData(0.5)]    // 0.5 rounds to even 0: the uid is dropped
    [InlineData(0.0001)] // far below one unit
    public void FromScores_WeightRoundingToZero_DropsTheUid(double score)
    {
        var (uids, weights) = ChainWeights.FromScores([(0, 65535.0), (1, score)]);
        Assert.Equal(new ushort[] { 0 }, uids);
        Assert.Equal(new ushort[] { 65535 }, weights);
    }

    [Fact]
    public void FromScores_AllZeroOrNone_GivesEmptyVectors()
    {
        Assert.Equal((0, 0), Lengths(ChainWeights.FromScores([(0, 0.0), (1, 0.0)])));
        Assert.Equal((0, 0), Lengths(ChainWeights.FromScores([])));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void FromScores_NegativeOrNotFinite_Throws(double score)
    {
        var e = Assert.Throws<ArgumentException>(() => ChainWeights.FromScores([(0, 1.0), (4, score)]));
        Assert.Contains("uid 4", e.Message);
    }

    [Fact]
    public void FromScores_DuplicateUid_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => ChainWeights.FromScores([(3, 1.0), (3, 0.5)]));
        Assert.Contains("uid 3 is given twice", e.Message);
    }

    private static (int, int) Lengths((ushort[] Uids, ushort[] Weights) v) => (v.Uids.Length, v.Weights.Length);
}
