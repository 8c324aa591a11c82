using Affinetes.Testing;
using Affinetes.ValidatorClient.Miners;

namespace Affinetes.ValidatorClient.Tests.Miners;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class JsonFileMinersSourceTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"affinetes-miners-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_file);

    [Fact]
    public async Task Read_ObjectOfImages_GivesEntriesInFileOrder_BadReferenceAsProblem()
    {
        await File.WriteAllTextAsync(_file, """{"7": "ghcr.io/m/a:v1", "3": "Not An Image", "9": "org/m@sha256:94349ec30cdd2a902c4b533036bf417f2b76e3a3e0cf83dbdab9fd535d566099"}""");
        var set = await MinersSource.FromFile(_file).ReadAsync().Within();
        Assert.Null(set.Block);
        Assert.Equal(["7", "3", "9"], set.Miners.Select(m => m.Uid));
        Assert.Equal(new MinerEntry("7", null, "ghcr.io/m/a:v1", null, null), set.Miners[0]);
        Assert.False(set.Miners[1].HasImage);
        Assert.StartsWith("'Not An Image' is not a valid image reference", set.Miners[1].Problem);
        Assert.True(set.Miners[2].HasImage);
    }

    [Theory]
    [InlineData(null, "cannot read the miners file")]
    [InlineData("{not json", "is not JSON")]
    [InlineData("[1, 2]", "must be a JSON object of uid to image")]
    [InlineData("""{"1": 42}""", "miner '1' must map to an image reference")]
    [InlineData("""{"1": " "}""", "miner '1' must map to an image reference")]
    [InlineData("{}", "names no miner")]
    public async Task Read_BadFile_RaisesWithTheSameWordsAsBefore(string? content, string expected)
    {
        if (content is not null)
        {
            await File.WriteAllTextAsync(_file, content);
        }
        var source = MinersSource.FromFile(_file);
        var e = await Assert.ThrowsAsync<MinersSourceException>(() => source.ReadAsync().Within());
        Assert.Contains(expected, e.Message);
        Assert.Contains(_file, e.Message);
        Assert.False(e.IsRetryable);
        Assert.Equal($"the miners file {_file}", source.Describe);
    }
}
