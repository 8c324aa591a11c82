using System.Globalization;
using System.Text.Json;
using Affinetes.Testing;
using Affinetes.Testing.Subtensor;
using Affinetes.ValidatorClient.Tests.Miners;

namespace Affinetes.Afs.Tests;

/// <summary>
/// The validator's cycle from the chain, as a user runs it: <c>afs score --subtensor URL --netuid 9</c> reads each
/// miner's commitment from a local subtensor node (the scoring scenario, encoded by @polkadot/types), evaluates the
/// committed images in real containers (the fixture's Good and Random images, tagged as the committed names), and
/// writes the scores and the chain's u16 weights.
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(AfsEvalCollection.Name)]
public sealed class AfsChainScoringDockerTests(AfsEvalFixture fixture) : IAsyncLifetime
{
    private const string GoodImage = "affinetes-test/chain-good:v1";
    private const string RandomImage = "affinetes-test/chain-random:v1";

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-afs-chain-score-");
    private SubtensorRpcServer _node = null!;
    private CommittedImages? _images;

    private string Store => Path.Combine(_work.FullName, "results.db");

    private string Url => _node.HttpUrl.ToString();

    private static JsonElement Block => SubtensorData.ScoringScenario.GetProperty("blocks")[0];

    public async Task InitializeAsync()
    {
        _node = await SubtensorRpcServer.StartAsync().Within();
        _node.Blocks.AddRange(SubtensorData.ScoringBlocks());
    }

    public async Task DisposeAsync()
    {
        if (_images is not null)
        {
            await _images.DisposeAsync();
        }
        await _node.DisposeAsync();
        _work.Delete(recursive: true);
    }

    /// <summary>The scenario's uid that committed <paramref name="image"/>.</summary>
    private static JsonElement Committed(string image) =>
        SubtensorData.ScoringMiners().Single(m => m.TryGetProperty("image", out var i) && i.GetString() == image);

    private static JsonElement OfKind(string kind) => SubtensorData.ScoringMiners().Single(m => m.GetProperty("kind").GetString() == kind);

    /// <summary>The uid whose committed image is on no engine and names the registry at 127.0.0.1:5000 (never an outside one).</summary>
    private static JsonElement Unpullable => SubtensorData.ScoringMiners()
        .Single(m => m.TryGetProperty("image", out var i) && i.GetString()?.StartsWith("127.0.0.1:5000/", StringComparison.Ordinal) == true);

    private static string Uid(JsonElement miner) => miner.GetProperty("uid").GetInt32().ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task Score_FromTheChain_EvaluatesTheCommittedImages_WritesTheChainsWeights_NextCycleFromTheStore()
    {
        _images = await CommittedImages.TagAsync(fixture.Docker, new Dictionary<string, string> { [GoodImage] = fixture.Good, [RandomImage] = fixture.Random });
        var scores = Path.Combine(_work.FullName, "scores.json");
        var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync(
            "score", "--subtensor", Url, "--netuid", "9", "--tasks", "1-8", "--store", Store, "--out", scores, "--ready-timeout", "60");
        Assert.True(exit == 0, error);
        // Said once the miners are read: how many, at which block.
        Assert.Contains($"afs score: evaluating 5 miners of subnet 9 at {Url} (block #{Block.GetProperty("number").GetInt64()}, 3 with an image) on 8 tasks (1-8), 2 at a time", error);

        var document = JsonDocument.Parse(await File.ReadAllTextAsync(scores)).RootElement;
        Assert.Equal(Block.GetProperty("number").GetInt64(), document.GetProperty("block").GetProperty("number").GetInt64());
        Assert.Equal(Block.GetProperty("hash").GetString(), document.GetProperty("block").GetProperty("hash").GetString());
        var miners = document.GetProperty("miners").EnumerateArray().ToList();
        Assert.Equal(["0", "1", "2", "3", "4"], miners.Select(m => m.GetProperty("uid").GetString()));
        var byUid = miners.ToDictionary(m => m.GetProperty("uid").GetString()!);
        foreach (var expected in SubtensorData.ScoringMiners())
        {
            var miner = byUid[Uid(expected)];
            Assert.Equal(expected.GetProperty("hotkey").GetString(), miner.GetProperty("hotkey").GetString());
            Assert.Equal(expected.TryGetProperty("commitBlock", out var block) ? block.GetInt64() : (long?)null,
                miner.GetProperty("commit_block").ValueKind == JsonValueKind.Null ? null : miner.GetProperty("commit_block").GetInt64());
            Assert.Equal(expected.TryGetProperty("image", out var image) ? image.GetString() : null, miner.GetProperty("image").GetString());
        }

        // The good image scores (task % 4) / 4 on each task: (1+2+3+0)*2/4/8; it ran as the fixture's image.
        var good = byUid[Uid(Committed(GoodImage))];
        Assert.Equal(0.375, good.GetProperty("score").GetDouble(), 9);
        Assert.Equal((await fixture.Docker.Images.InspectImageAsync(fixture.Good)).ID, good.GetProperty("image_digest").GetString());
        Assert.Equal(JsonValueKind.Null, good.GetProperty("error").ValueKind);
        // The random one scores at random: its score is the mean of the task scores the store kept of its run.
        var random = byUid[Uid(Committed(RandomImage))];
        var randomScore = random.GetProperty("score").GetDouble();
        Assert.Equal(await StoredMeanAsync(random.GetProperty("run").GetString()!), randomScore, 12);
        Assert.Equal((await fixture.Docker.Images.InspectImageAsync(fixture.Random)).ID, random.GetProperty("image_digest").GetString());

        // The miners without a usable image score 0 with the library's reason.
        var none = byUid[Uid(OfKind("no-commitment"))];
        Assert.Equal(0, none.GetProperty("score").GetDouble());
        Assert.Equal("no usable image: no commitment", none.GetProperty("error").GetString());
        var garbage = byUid[Uid(OfKind("not-an-image"))];
        Assert.Equal(0, garbage.GetProperty("score").GetDouble());
        Assert.Equal("no usable image: 'my miner, version 2' is not a valid image reference: it holds spaces or control characters", garbage.GetProperty("error").GetString());
        var missing = byUid[Uid(Unpullable)];
        Assert.Equal(0, missing.GetProperty("score").GetDouble());
        // The pinned image is named with its digest cut, in the reason (where the engine names it again) and the table,
        // so that the engine's cause, last, is not cut off.
        var pinned = missing.GetProperty("image").GetString()!;
        var shortPinned = pinned[..(pinned.IndexOf("@sha256:", StringComparison.Ordinal) + "@sha256:".Length + 12)] + "...";
        var reason = missing.GetProperty("error").GetString()!;
        Assert.StartsWith($"not started: image {shortPinned} is not on the local engine and could not be pulled: ", reason);
        Assert.False(reason.EndsWith("...", StringComparison.Ordinal), reason);
        Assert.Contains($"\n{Uid(Unpullable)}    {shortPinned}  ", output);
        Assert.DoesNotContain(pinned, output);
        Assert.Equal(JsonValueKind.Null, missing.GetProperty("run").ValueKind);

        // Normalised weights, and the chain's: only the non-zero weights' uids, the largest 65535, the other in proportion
        // rounded half to even (the Bittensor SDK's rule).
        var total = 0.375 + randomScore;
        Assert.Equal(0.375 / total, good.GetProperty("weight").GetDouble(), 12);
        Assert.Equal(randomScore / total, random.GetProperty("weight").GetDouble(), 12);
        Assert.All(new[] { none, garbage, missing }, m => Assert.Equal(0, m.GetProperty("weight").GetDouble()));
        var chain = document.GetProperty("chain_weights");
        var uids = chain.GetProperty("uids").EnumerateArray().Select(u => u.GetUInt16()).ToList();
        var weights = chain.GetProperty("weights").EnumerateArray().Select(w => w.GetUInt16()).ToList();
        Assert.True(randomScore > 0, "a random score of exactly 0 leaves the random miner out of the chain's weights; run again");
        Assert.Equal([ushort.Parse(Uid(Committed(GoodImage)), CultureInfo.InvariantCulture), ushort.Parse(Uid(Committed(RandomImage)), CultureInfo.InvariantCulture)], uids);
        var max = Math.Max(0.375, randomScore);
        Assert.Equal([(ushort)Math.Round(0.375 / max * 65535, MidpointRounding.ToEven), (ushort)Math.Round(randomScore / max * 65535, MidpointRounding.ToEven)], weights);
        Assert.Equal(65535, weights.Max());

        // The next cycle: the unchanged images are served from the store, the same scores.
        var (exit2, output2, error2) = await AfsEnvironmentFixture.AfsAsync(
            "score", "--subtensor", Url, "--netuid", "9", "--tasks", "1-8", "--store", Store, "--json", "--ready-timeout", "60");
        Assert.True(exit2 == 0, error2);
        var again = JsonDocument.Parse(output2).RootElement.GetProperty("miners").EnumerateArray().ToDictionary(m => m.GetProperty("uid").GetString()!);
        foreach (var uid in new[] { Uid(Committed(GoodImage)), Uid(Committed(RandomImage)) })
        {
            Assert.Equal(8, again[uid].GetProperty("cache_hits").GetInt32());
            Assert.Equal(byUid[uid].GetProperty("score").GetDouble(), again[uid].GetProperty("score").GetDouble());
        }
        var chain2 = JsonDocument.Parse(output2).RootElement.GetProperty("chain_weights");
        Assert.Equal(uids, chain2.GetProperty("uids").EnumerateArray().Select(u => u.GetUInt16()));
        Assert.Equal(weights, chain2.GetProperty("weights").EnumerateArray().Select(w => w.GetUInt16()));
    }

    [Fact]
    public async Task Score_ANetuidTheChainDoesNotHave_ExitsOne_InOneLine()
    {
        var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync("score", "--subtensor", Url, "--netuid", "10", "--tasks", "1-8", "--store", Store);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal($"afs score: subnet 10 does not exist on this chain (block #{Block.GetProperty("number").GetInt64()})\n", error);
    }

    [Fact]
    public async Task Score_ANodeThatCannotBeReached_ExitsFive()
    {
        var port = DockerEngine.FreeLoopbackPort().ToString(CultureInfo.InvariantCulture);
        var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync("score", "--subtensor", $"ws://127.0.0.1:{port}", "--netuid", "9", "--tasks", "1-8", "--store", Store);
        Assert.Equal(5, exit);
        Assert.Equal("", output);
        Assert.StartsWith($"afs score: cannot reach the subtensor node at ws://127.0.0.1:{port}/", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    private async Task<double> StoredMeanAsync(string run)
    {
        var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync("show", run, "--store", Store, "--json");
        Assert.True(exit == 0, error);
        var tasks = JsonDocument.Parse(output).RootElement.GetProperty("tasks").EnumerateArray().ToList();
        Assert.Equal(8, tasks.Count);
        return tasks.Average(t => t.GetProperty("score").GetDouble());
    }
}
