using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Affinetes.Testing;
using Affinetes.Testing.Subtensor;
using Affinetes.ValidatorClient.Miners;

namespace Affinetes.ValidatorClient.Tests.Miners;

/// <summary>
/// The real <see cref="SubtensorMinersSource"/> over real HTTP and websockets against a local JSON-RPC node that serves
/// the recorded subtensor metadata with the scenario @polkadot/types encoded (Data/scenario.json), or replays storage a
/// real node answered.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class SubtensorMinersSourceTests : IAsyncLifetime
{
    private SubtensorRpcServer _node = null!;

    private static string HashOf(string block) => SubtensorData.Scenario.GetProperty("blocks").EnumerateArray()
        .Single(b => b.GetProperty("name").GetString() == block).GetProperty("hash").GetString()!;

    public async Task InitializeAsync()
    {
        _node = await SubtensorRpcServer.StartAsync().Within();
        _node.Blocks.AddRange(SubtensorData.ScenarioBlocks());
        _node.FinalizedHead = HashOf("A");
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private IMinersSource Source(string transport, ushort netuid = 7, Func<SubtensorOptions, SubtensorOptions>? more = null)
    {
        var options = new SubtensorOptions { Url = (transport == "ws" ? _node.WebSocketUrl : _node.HttpUrl).ToString(), NetUid = netuid };
        return MinersSource.FromSubtensor(more is null ? options : more(options));
    }

    public static TheoryData<string, string> Transports() => new() { { "http", "V14" }, { "ws", "V14" }, { "ws", "V15" }, { "http", "V15" } };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Read_256Uids_GivesEachMinersImageOrProblem_InAHandfulOfRequests(string transport, string metadata)
    {
        if (metadata == "V15")
        {
            _node.Blocks.ForEach(b => b.MetadataHex = SubtensorData.MetadataV15Hex);
        }
        var set = await Source(transport).ReadAsync().Within();

        Assert.Equal(new ChainBlock(5_000_000, HashOf("A")), set.Block);
        AssertMiners(SubtensorData.ScenarioMiners("A"), set.Miners);
        Assert.True(_node.Requests.Count <= 10, $"{_node.Requests.Count} requests: {string.Join(", ", _node.Requests)}");
        Assert.Equal(3, _node.Requests.Count(r => r == "state_queryStorageAt"));
    }

    [Fact]
    public async Task Read_ChainMovesOnDuringTheRead_EverythingComesFromTheBlockTakenFirst()
    {
        // Block B is finalized right after the source took A's hash: what it reads must still be A's.
        _node.OnRequest = method =>
        {
            if (method == "chain_getHeader")
            {
                _node.FinalizedHead = HashOf("B");
            }
        };
        var set = await Source("ws").ReadAsync().Within();
        Assert.Equal(5_000_000, set.Block!.Number);
        Assert.Equal("ghcr.io/miner-7/affine:old", set.Miners[7].Image);

        _node.OnRequest = null;
        var next = await Source("ws").ReadAsync().Within();
        Assert.Equal(5_000_001, next.Block!.Number);
        Assert.Equal("ghcr.io/miner-7/affine:new", next.Miners[7].Image);
        Assert.Equal(4_999_990, next.Miners[7].CommitBlock);
        AssertMiners(SubtensorData.ScenarioMiners("B"), next.Miners);
    }

    [Fact]
    public async Task Read_AtABlockNumberOrHash_ReadsThatBlock()
    {
        _node.FinalizedHead = HashOf("B");
        var byNumber = await Source("http", more: o => o with { BlockNumber = 5_000_000 }).ReadAsync().Within();
        var byHash = await Source("http", more: o => o with { BlockHash = HashOf("A") }).ReadAsync().Within();
        Assert.Equal("ghcr.io/miner-7/affine:old", byNumber.Miners[7].Image);
        Assert.Equal("ghcr.io/miner-7/affine:old", byHash.Miners[7].Image);
        Assert.Equal(byNumber.Block, byHash.Block);
    }

    [Fact]
    public async Task Read_ScoringScenario_GivesTheCommittedTestImagesAndTheProblems()
    {
        // The scenario the scoring tests evaluate: what they expect of it is what the source reads.
        _node.Blocks.Clear();
        _node.Blocks.AddRange(SubtensorData.ScoringBlocks());
        _node.FinalizedHead = null;
        var set = await Source("ws", netuid: 9).ReadAsync().Within();
        var block = SubtensorData.ScoringScenario.GetProperty("blocks")[0];
        Assert.Equal(new ChainBlock(block.GetProperty("number").GetInt64(), block.GetProperty("hash").GetString()!), set.Block);
        AssertMiners(SubtensorData.ScoringMiners(), set.Miners, kinds: 3); // no-commitment, image, not-an-image
        Assert.Equal(["affinetes-test/chain-good:v1", "affinetes-test/chain-random:v1"], set.Miners.Select(m => m.Image).OfType<string>().Where(i => !i.StartsWith("127.0.0.1:", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Read_Twice_FetchesTheMetadataOnce()
    {
        var source = Source("ws");
        await source.ReadAsync().Within();
        await source.ReadAsync().Within();
        Assert.Equal(1, _node.Requests.Count(r => r == "state_getMetadata"));
        Assert.Equal(2, _node.Requests.Count(r => r == "state_getRuntimeVersion"));
    }

    [Fact]
    public async Task Read_NodeWithoutQueryStorageAt_AsksKeyByKey()
    {
        _node.SupportsQueryStorageAt = false;
        var set = await Source("ws").ReadAsync().Within();
        AssertMiners(SubtensorData.ScenarioMiners("A"), set.Miners);
        Assert.Equal(2 + 256 + set.Miners.Count(m => m.Hotkey is not null), _node.Requests.Count(r => r == "state_getStorage"));
    }

    [Fact]
    public async Task Read_RecordedSubnet_DecodesTheValuesARealNodeAnswered()
    {
        // The subnetwork_n seed: a real node's header, NetworksAdded(1) and SubnetworkN(1) (1024) at its head.
        var seed = SubtensorData.Recordings.GetProperty("subnetwork_n");
        var head = seed.GetProperty("chain_getHead").GetProperty("[]").GetProperty("result").GetString()!;
        var header = seed.GetProperty("chain_getHeader").GetProperty(JsonSerializer.Serialize(new[] { head })).GetProperty("result");
        var block = new SubtensorBlock
        {
            Hash = head,
            Number = Convert.ToInt64(header.GetProperty("number").GetString()![2..], 16),
            ParentHash = header.GetProperty("parentHash").GetString()!,
            MetadataHex = SubtensorData.MetadataV14Hex,
            SpecVersion = seed.GetProperty("state_getRuntimeVersion").EnumerateObject().First().Value.GetProperty("result").GetProperty("specVersion").GetInt64(),
        };
        foreach (var read in seed.GetProperty("state_getStorageAt").EnumerateObject())
        {
            block.Storage[JsonDocument.Parse(read.Name).RootElement[0].GetString()!] = read.Value.GetProperty("result").GetString()!;
        }
        _node.Blocks.Clear();
        _node.Blocks.Add(block);
        _node.FinalizedHead = head;

        var set = await Source("ws", netuid: 1).ReadAsync().Within();

        Assert.Equal(new ChainBlock(0x636c30, head), set.Block);
        Assert.Equal(1024, set.Miners.Count);
        // The recording holds no Keys: every uid is without a hotkey, and no commitment is asked for.
        Assert.All(set.Miners, m => Assert.Equal("no hotkey is registered at this uid", m.Problem));
        Assert.Equal(4, _node.Requests.Count(r => r == "state_queryStorageAt") - 1);
        Assert.True(_node.Requests.Count <= 10, string.Join(", ", _node.Requests));
    }

    [Theory]
    [InlineData("http")]
    [InlineData("ws")]
    public async Task Read_ClosedPort_SaysConnectionRefused(string transport)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var url = $"{transport}://127.0.0.1:{port}/";
        var e = await Assert.ThrowsAsync<MinersSourceException>(() =>
            MinersSource.FromSubtensor(new SubtensorOptions { Url = url, NetUid = 7 }).ReadAsync().Within());
        Assert.Equal($"cannot reach the subtensor node at {url}: Connection refused", e.Message);
        Assert.True(e.IsRetryable);
    }

    [Fact]
    public async Task Read_SubnetThatDoesNotExist_SaysSoWithTheBlock()
    {
        var e = await Assert.ThrowsAsync<MinersSourceException>(() => Source("ws", netuid: 999).ReadAsync().Within());
        Assert.Equal("subnet 999 does not exist on this chain (block #5000000)", e.Message);
        Assert.False(e.IsRetryable);
    }

    [Fact]
    public async Task Read_NodeWithoutCommitmentsPallet_AsksIfItIsASubtensorNode()
    {
        _node.Blocks.ForEach(b => b.MetadataHex = SubtensorData.MetadataWithoutCommitmentsHex);
        var e = await Assert.ThrowsAsync<MinersSourceException>(() => Source("http").ReadAsync().Within());
        Assert.Equal("the node's runtime (node-subtensor, spec_version 343) has no Commitments.CommitmentOf storage: is this a Bittensor subtensor node?", e.Message);
    }

    [Fact]
    public async Task Read_MetadataThatIsNotMetadata_SaysItCannotBeRead()
    {
        _node.Blocks.ForEach(b => b.MetadataHex = "0x6d6574610d00");
        var e = await Assert.ThrowsAsync<MinersSourceException>(() => Source("ws").ReadAsync().Within());
        Assert.Contains("(spec_version 343) cannot be read: metadata version 13 is not supported (14 and 15 are)", e.Message);
    }

    [Fact]
    public async Task Read_JsonRpcError_CarriesTheNodesMessage()
    {
        _node.Failure = ("state_getMetadata", -32000, "Client error: Execution failed: Other: Exhausted");
        var e = await Assert.ThrowsAsync<MinersSourceException>(() => Source("ws").ReadAsync().Within());
        Assert.Equal($"the subtensor node at {_node.WebSocketUrl} refused state_getMetadata: Client error: Execution failed: Other: Exhausted (JSON-RPC error -32000)", e.Message);
    }

    [Theory]
    [InlineData("http")]
    [InlineData("ws")]
    public async Task Read_SlowNode_FailsAfterTheRequestTimeoutNamingTheMethod(string transport)
    {
        _node.Slow = ("state_getMetadata", TimeSpan.FromSeconds(20));
        var e = await Assert.ThrowsAsync<MinersSourceException>(() =>
            Source(transport, more: o => o with { RequestTimeout = TimeSpan.FromMilliseconds(300) }).ReadAsync().Within(TimeSpan.FromSeconds(10)));
        Assert.EndsWith("did not answer state_getMetadata within 0.3 s", e.Message);
        Assert.True(e.IsRetryable);
    }

    [Fact]
    public async Task Read_CallerCancels_IsCancellationNotATimeout()
    {
        _node.Slow = ("state_getMetadata", TimeSpan.FromSeconds(20));
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Source("ws").ReadAsync(stop.Token).Within(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Read_UnknownBlock_SaysWhichBlock()
    {
        var unknown = "0x" + new string('1', 64);
        var byHash = await Assert.ThrowsAsync<MinersSourceException>(() => Source("ws", more: o => o with { BlockHash = unknown }).ReadAsync().Within());
        Assert.Equal($"block {unknown} is not known to the subtensor node at {_node.WebSocketUrl}", byHash.Message);
        var byNumber = await Assert.ThrowsAsync<MinersSourceException>(() => Source("ws", more: o => o with { BlockNumber = 9_000_000 }).ReadAsync().Within());
        Assert.StartsWith("block #9000000 is not known to the subtensor node", byNumber.Message);
    }

    [Theory]
    [InlineData("ftp://127.0.0.1:9944", "is not a ws://, wss://, http:// or https:// URL")]
    [InlineData("127.0.0.1:9944", "is not a ws://, wss://, http:// or https:// URL")]
    [InlineData("", "the subtensor URL is empty")]
    public void FromSubtensor_BadUrl_SaysWhatToGive(string url, string expected)
    {
        var e = Assert.Throws<MinersSourceException>(() => MinersSource.FromSubtensor(new SubtensorOptions { Url = url, NetUid = 7 }));
        Assert.Contains(expected, e.Message);
        Assert.Contains("ws://127.0.0.1:9944", e.Message);
    }

    [Fact]
    public void FromSubtensor_BadOptions_AreAllSaidAtOnce()
    {
        var e = Assert.Throws<MinersSourceException>(() => MinersSource.FromSubtensor(new SubtensorOptions
        {
            Url = "ws://127.0.0.1:9944", NetUid = 7, BlockNumber = 5, BlockHash = "0x12", RequestTimeout = TimeSpan.Zero, KeysPerRequest = 0,
        }));
        Assert.Contains("not both", e.Message);
        Assert.Contains("block hash '0x12' is not 0x and 64 hex digits", e.Message);
        Assert.Contains("request timeout", e.Message);
        Assert.Contains("keys per request", e.Message);
        Assert.Equal("subnet 7 at ws://127.0.0.1:9944/", MinersSource.FromSubtensor(new SubtensorOptions { Url = "ws://127.0.0.1:9944", NetUid = 7 }).Describe);
    }

    /// <summary>Each uid's entry against what the scenario committed (its kind says what the source must make of it).</summary>
    private static void AssertMiners(List<JsonElement> expected, IReadOnlyList<MinerEntry> miners, int kinds = 12)
    {
        Assert.Equal(expected.Count, miners.Count);
        for (var uid = 0; uid < expected.Count; uid++)
        {
            var want = expected[uid];
            var got = miners[uid];
            var kind = want.GetProperty("kind").GetString();
            Assert.Equal(uid.ToString(System.Globalization.CultureInfo.InvariantCulture), got.Uid);
            Assert.Equal(want.GetProperty("hotkey").GetString(), got.Hotkey);
            Assert.True(got.Image is null != (got.Problem is null), $"uid {uid}: exactly one of image and problem");
            switch (kind)
            {
                case "image" or "fields-agree" or "with-flag" or "big-raw" or "changed":
                    Assert.Equal(want.GetProperty("image").GetString(), got.Image);
                    Assert.Equal(want.GetProperty("commitBlock").GetInt64(), got.CommitBlock);
                    break;
                case "no-hotkey":
                    Assert.Equal("no hotkey is registered at this uid", got.Problem);
                    break;
                case "no-commitment":
                    Assert.Equal("no commitment", got.Problem);
                    break;
                case "not-utf8":
                    Assert.Equal("commitment is not UTF-8", got.Problem);
                    break;
                case "empty":
                    Assert.Equal("commitment is empty", got.Problem);
                    break;
                case "hash-only":
                    Assert.Equal("commitment holds no raw data, only Sha256", got.Problem);
                    break;
                case "fields-disagree":
                    Assert.Equal($"commitment has several fields that disagree: 'ghcr.io/miner-{uid}/affine:v{uid}', 'ghcr.io/miner-{uid}/affine:v{uid}-other'", got.Problem);
                    break;
                case "not-an-image":
                    Assert.Contains("is not a valid image reference", got.Problem);
                    Assert.Equal(want.GetProperty("commitBlock").GetInt64(), got.CommitBlock);
                    break;
                default:
                    Assert.Fail($"uid {uid}: unknown kind {kind}");
                    break;
            }
        }
        // Every case of the scenario is there.
        Assert.Equal(kinds, expected.Select(e => e.GetProperty("kind").GetString()).Distinct().Count());
    }
}
