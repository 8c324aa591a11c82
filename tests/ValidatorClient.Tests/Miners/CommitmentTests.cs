using Affinetes.Testing;
using Affinetes.ValidatorClient.Miners;
using Affinetes.ValidatorClient.Miners.Substrate;

namespace Affinetes.ValidatorClient.Tests.Miners;

/// <summary>What a decoded <c>Registration</c> says: the shape below is the one the real metadata gives it.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class CommitmentTests
{
    private static ScaleVariant Raw(string text) => Raw(System.Text.Encoding.UTF8.GetBytes(text));

    private static ScaleVariant Raw(byte[] bytes) => new($"Raw{bytes.Length}", (byte)(bytes.Length + 1), [new ScaleField(null, new ScaleBytes(bytes))]);

    private static ScaleComposite Registration(long block, params ScaleVariant[] fields) => new(
    [
        new ScaleField("deposit", new ScaleInteger(1000)),
        new ScaleField("block", new ScaleInteger(block)),
        new ScaleField("info", new ScaleComposite([new ScaleField("fields", new ScaleComposite([new ScaleField(null, new ScaleList(fields))]))])),
    ]);

    [Fact]
    public void Read_OneRawImage_GivesItAndTheBlock() =>
        Assert.Equal(("ghcr.io/m/a:v1", (string?)null, (long?)42), Commitment.Read(Registration(42, Raw("ghcr.io/m/a:v1"))));

    [Fact]
    public void Read_AgreeingFieldsAndFlags_GiveTheImage() =>
        Assert.Equal("ghcr.io/m/a:v1", Commitment.Read(Registration(1, Raw("ghcr.io/m/a:v1"), new ScaleVariant("ResetBondsFlag", 135, []), Raw("ghcr.io/m/a:v1"), Raw(""))).Image);

    [Fact]
    public void Read_DisagreeingFields_IsAProblemNamingThem()
    {
        var (image, problem, _) = Commitment.Read(Registration(1, Raw("ghcr.io/m/a:v1"), Raw("ghcr.io/m/a:v2")));
        Assert.Null(image);
        Assert.Equal("commitment has several fields that disagree: 'ghcr.io/m/a:v1', 'ghcr.io/m/a:v2'", problem);
    }

    [Fact]
    public void Read_NotUtf8_EmptyHashOnly_AreProblems()
    {
        Assert.Equal("commitment is not UTF-8", Commitment.Read(Registration(1, Raw([0x6d, 0xff, 0xfe]))).Problem);
        Assert.Equal("commitment is empty", Commitment.Read(Registration(1, Raw(""))).Problem);
        Assert.Equal("commitment is empty", Commitment.Read(Registration(1)).Problem);
        Assert.Equal("commitment holds no raw data, only Sha256",
            Commitment.Read(Registration(1, new ScaleVariant("Sha256", 131, [new ScaleField(null, new ScaleBytes(new byte[32]))]))).Problem);
    }

    [Fact]
    public void Read_NotAnImage_IsTheReferenceProblem() =>
        Assert.StartsWith("'Hello World!' is not a valid image reference", Commitment.Read(Registration(1, Raw("Hello World!"))).Problem);

    [Fact]
    public void Read_BigRaw_IsRawData()
    {
        var big = new ScaleVariant("BigRaw", 136, [new ScaleField(null, new ScaleComposite([new ScaleField(null, new ScaleBytes(System.Text.Encoding.UTF8.GetBytes("org/m:v1")))]))]);
        Assert.Equal("org/m:v1", Commitment.Read(Registration(1, big)).Image);
    }

    [Fact]
    public void Read_AnotherShape_SaysTheRuntimeMayHaveChanged() =>
        Assert.Contains("has the runtime changed?", Commitment.Read(new ScaleInteger(5)).Problem);
}
