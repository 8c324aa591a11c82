using System.Globalization;
using System.Text.Json;
using Affinetes.Injector.Building;
using Affinetes.Injector.Sources;
using Affinetes.Testing;
using Affinetes.Testing.Subtensor;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Jobs;
using Affinetes.ValidatorClient.Miners;
using Affinetes.ValidatorClient.Results;
using Affinetes.ValidatorClient.Tests.Miners;
using Docker.DotNet;

namespace Affinetes.ValidatorClient.Tests.Jobs;

/// <summary>
/// <see cref="ScoringService"/> with the miners of a subtensor node (<see cref="MinersSource.FromSubtensor"/>), no CLI:
/// the scoring scenario's subnet 9 (encoded by @polkadot/types) served by a local node, its committed images the
/// eval-actor test environment (good and random behaviours) tagged as the committed names, run in real containers.
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
public sealed class ChainScoringDockerTests : IAsyncLifetime
{
    private const string GoodImage = "affinetes-test/chain-good:v1";
    private const string RandomImage = "affinetes-test/chain-random:v1";

    private readonly string _id = Guid.NewGuid().ToString("N")[..10];
    private readonly TempStore _temp = new();
    private readonly DockerClient _docker = DockerEngine.CreateClient();
    private ResultStore _store = null!;
    private SubtensorRpcServer _node = null!;

    private string Good => $"affinetes-test/client-eval-good:{_id}";

    private string Random => $"affinetes-test/client-eval-random:{_id}";

    public async Task InitializeAsync()
    {
        _store = await _temp.OpenAsync();
        _node = await SubtensorRpcServer.StartAsync().Within();
        _node.Blocks.AddRange(SubtensorData.ScoringBlocks());
        await DockerEngine.RequireImageAsync(_docker, DockerEngine.PythonBaseImage);
        var builder = new ImageBuilder(_docker);
        var actor = EnvironmentSource.Parse(Path.Combine(AppContext.BaseDirectory, "Envs", "eval-actor"));
        foreach (var (tag, behaviour) in new[] { (Good, "good"), (Random, "random") })
        {
            await builder.BuildAsync(actor, new BuildOptions { Tag = tag, Quiet = true, BuildArgs = new Dictionary<string, string> { ["BEHAVIOUR"] = behaviour } })
                .Within(TimeSpan.FromMinutes(5), $"building eval-actor ({behaviour})");
        }
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        await _temp.DisposeAsync();
        await _node.DisposeAsync();
        var containers = await _docker.Containers.ListContainersAsync(new Docker.DotNet.Models.ContainersListParameters { All = true });
        foreach (var container in containers.Where(c => c.Image == Good || c.Image == Random))
        {
            await DockerEngine.RemoveContainerQuietlyAsync(_docker, container.ID);
        }
        await DockerEngine.RemoveImageQuietlyAsync(_docker, Good);
        await DockerEngine.RemoveImageQuietlyAsync(_docker, Random);
        _docker.Dispose();
    }

    private static ushort UidOf(string image) => (ushort)SubtensorData.ScoringMiners()
        .Single(m => m.TryGetProperty("image", out var i) && i.GetString() == image).GetProperty("uid").GetInt32();

    private static JsonElement Expected(string uid) => SubtensorData.ScoringMiners()[int.Parse(uid, CultureInfo.InvariantCulture)];

    [Fact]
    public async Task Scoring_MinersFromTheChain_ScoresTheCommittedImages_TheBlock_AndTheChainsVectors()
    {
        await using var images = await CommittedImages.TagAsync(_docker, new Dictionary<string, string> { [GoodImage] = Good, [RandomImage] = Random });
        await using var client = AffinetesClient.Create();
        var service = new ScoringService(client, _store, new EvaluationServiceOptions { LocalModel = new LocalTestModel() });
        var job = new ScoringJob
        {
            Miners = MinersSource.FromSubtensor(new SubtensorOptions { Url = _node.WebSocketUrl.ToString(), NetUid = 9 }),
            Environment = new EnvironmentOptions { ReadyTimeout = TimeSpan.FromSeconds(60) },
            Request = new EvaluationRequest { Method = "evaluate", TaskIds = [.. Enumerable.Range(1, 8).Select(i => (long)i)] },
        };
        var report = await service.ScoreAsync(job).Within(TimeSpan.FromMinutes(4), "scoring subnet 9");

        var block = SubtensorData.ScoringScenario.GetProperty("blocks")[0];
        Assert.Equal(new ChainBlock(block.GetProperty("number").GetInt64(), block.GetProperty("hash").GetString()!), report.Block);
        Assert.Equal(["0", "1", "2", "3", "4"], report.Miners.Select(m => m.Miner.Uid));
        foreach (var score in report.Miners)
        {
            var expected = Expected(score.Miner.Uid);
            Assert.Equal(expected.GetProperty("hotkey").GetString(), score.Miner.Hotkey);
            Assert.Equal(expected.TryGetProperty("commitBlock", out var commitBlock) ? commitBlock.GetInt64() : (long?)null, score.Miner.CommitBlock);
            Assert.Equal(expected.TryGetProperty("image", out var image) ? image.GetString() : null, score.Miner.Image);
        }

        var byUid = report.Miners.ToDictionary(m => m.Miner.Uid);
        var good = byUid[UidOf(GoodImage).ToString(CultureInfo.InvariantCulture)];
        Assert.Equal(0.375, good.Score, 9); // (task % 4) / 4 over tasks 1-8
        Assert.Null(good.Reason);
        Assert.Equal((await _docker.Images.InspectImageAsync(Good)).ID, good.ImageDigest);
        Assert.Equal(8, good.Summary!.Completed);

        // The random miner's score is the mean of its tasks' scores as the store has them.
        var random = byUid[UidOf(RandomImage).ToString(CultureInfo.InvariantCulture)];
        Assert.Equal((await _docker.Images.InspectImageAsync(Random)).ID, random.ImageDigest);
        var stored = await _store.GetResultsAsync(random.RunId!);
        Assert.Equal(8, stored.Count);
        Assert.Equal(stored.Average(r => r.Score), random.Score, 12);
        Assert.Null(random.Reason);

        Assert.Equal((0.0, "no usable image: no commitment"), (byUid["0"].Score, byUid["0"].Reason));
        Assert.Equal((0.0, "no usable image: 'my miner, version 2' is not a valid image reference: it holds spaces or control characters"), (byUid["2"].Score, byUid["2"].Reason));
        Assert.Equal(0, byUid["4"].Score);
        // The pinned image's digest is cut in the reason (the engine names the image again): the engine's cause, last, is not cut off.
        var pinned = byUid["4"].Miner.Image!;
        Assert.StartsWith($"not started: image {pinned[..(pinned.IndexOf("@sha256:", StringComparison.Ordinal) + "@sha256:".Length + 12)]}... is not on ", byUid["4"].Reason);
        Assert.False(byUid["4"].Reason!.EndsWith("...", StringComparison.Ordinal), byUid["4"].Reason);
        Assert.Null(byUid["4"].RunId);

        var total = good.Score + random.Score;
        Assert.Equal(report.Miners.Select(m => m.Score / total), report.Weights);
        Assert.True(random.Score > 0, "a random score of exactly 0 leaves the random miner out of the chain's weights; run again");
        Assert.Equal([UidOf(GoodImage), UidOf(RandomImage)], report.ChainUids!);
        var max = Math.Max(good.Score, random.Score);
        Assert.Equal([(ushort)Math.Round(good.Score / max * 65535, MidpointRounding.ToEven), (ushort)Math.Round(random.Score / max * 65535, MidpointRounding.ToEven)], report.ChainWeights!);
        Assert.Equal(ushort.MaxValue, report.ChainWeights!.Max());
    }
}
