using System.Text.Json;
using Affinetes.Testing;
using Affinetes.Testing.Subtensor;
using Affinetes.ValidatorClient.Tests.Miners;

namespace Affinetes.Afs.Tests;

/// <summary>
/// <c>afs miners</c> and <c>afs score --subtensor</c> against the local JSON-RPC server that serves the real runtime
/// metadata and the scenario's storage (256 uids, commitments encoded by @polkadot/types; see Miners/Data/README.md).
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class AfsChainTests : IAsyncLifetime
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-afs-chain-");
    private SubtensorRpcServer _node = null!;

    public async Task InitializeAsync()
    {
        _node = await SubtensorRpcServer.StartAsync().Within();
        _node.Blocks.AddRange(SubtensorData.ScenarioBlocks());
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        _work.Delete(recursive: true);
    }

    private string Url => _node.HttpUrl.ToString();

    [Fact]
    public async Task Miners_ListsEveryUid_WithItsCommittedImage_OrWhyNot()
    {
        var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync("miners", "--subtensor", Url, "--netuid", "7", "--json");
        Assert.True(exit == 0, error);
        var document = JsonDocument.Parse(output).RootElement;
        var miners = document.GetProperty("miners").EnumerateArray().ToList();
        var expected = SubtensorData.ScenarioMiners("B");
        Assert.Equal(256, miners.Count);
        Assert.Equal(expected.Count(m => m.TryGetProperty("image", out var i) && i.ValueKind == JsonValueKind.String), miners.Count(m => m.GetProperty("image").ValueKind == JsonValueKind.String));
        Assert.True(document.GetProperty("block").GetProperty("number").GetInt64() > 0);

        var (tableExit, table, _) = await AfsEnvironmentFixture.AfsAsync("miners", "--subtensor", Url, "--netuid", "7");
        Assert.Equal(0, tableExit);
        Assert.Contains("256 miners", table, StringComparison.Ordinal);
        Assert.Contains("UID", table, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "miners", "--subtensor", "ws://127.0.0.1:9" , "--netuid", "7" }, 5, "cannot reach the subtensor node")]
    [InlineData(new[] { "miners", "--subtensor", "ftp://x", "--netuid", "7" }, 1, "afs miners: --subtensor: the subtensor URL 'ftp://x' is not a ws://")]
    [InlineData(new[] { "miners", "--subtensor", "http://127.0.0.1:9" }, 1, "afs miners: --subtensor needs --netuid N")]
    [InlineData(new[] { "score", "--subtensor", "http://127.0.0.1:9", "--netuid", "70000", "--tasks", "1" }, 1, "afs score: --netuid 70000: give 0 to 65535")]
    public async Task BadInput_OneLine_TheDocumentedExitCode(string[] args, int code, string message)
    {
        var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync(args);
        Assert.Equal(code, exit);
        Assert.Equal("", output);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Miners_AWrongNetuid_SaysTheSubnetDoesNotExist()
    {
        var (exit, _, error) = await AfsEnvironmentFixture.AfsAsync("miners", "--subtensor", Url, "--netuid", "999");
        Assert.Equal(1, exit);
        Assert.Contains("subnet 999 does not exist on this chain", error, StringComparison.Ordinal);
    }
}
