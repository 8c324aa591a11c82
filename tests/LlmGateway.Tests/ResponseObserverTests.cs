using Affinetes.LlmGateway.Proxy;
using Affinetes.LlmGateway.Usage;

namespace Affinetes.LlmGateway.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ResponseObserverTests
{
    /// <summary>Gives its bytes a few at a time, as a network would split them.</summary>
    private sealed class TrickleStream(byte[] data, int piece) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, piece)], cancellationToken);
    }

    private const string Content = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n";
    private const string UsageOnly = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}\n\n";
    private const string Done = "data: [DONE]\n\n";

    private static async Task<string> ReadAllAsync(Stream stream)
    {
        var output = new MemoryStream();
        var buffer = new byte[5];
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            output.Write(buffer, 0, read);
        }
        return Encoding.UTF8.GetString(output.ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public async Task Sse_SplitAnywhere_DropsOnlyTheUsageChunkTheGatewayAddedAndReadsItsCounts(int piece)
    {
        var exchange = new Exchange(expectsUsage: true, usageAdded: true);
        var input = Content + Content.Replace("\n\n", "\r\n\r\n") + UsageOnly + Done;
        using var observer = new ResponseObserver(new TrickleStream(Encoding.UTF8.GetBytes(input), piece), exchange, HttpStatusCode.OK, "text/event-stream", null);

        var output = await ReadAllAsync(observer);

        Assert.Equal(Content + Content.Replace("\n\n", "\r\n\r\n") + Done, output);
        Assert.Equal(new TokenCounts(12, 3, 15), exchange.Tokens);
    }

    [Fact]
    public async Task Sse_ClientAskedForUsage_PassesEveryByte()
    {
        var exchange = new Exchange(expectsUsage: true, usageAdded: false);
        var input = Content + UsageOnly + Done;
        using var observer = new ResponseObserver(new TrickleStream(Encoding.UTF8.GetBytes(input), 3), exchange, HttpStatusCode.OK, "text/event-stream", null);

        Assert.Equal(input, await ReadAllAsync(observer));
        Assert.Equal(new TokenCounts(12, 3, 15), exchange.Tokens);
    }

    [Fact]
    public async Task Json_UsageIsReadAtTheEnd_EmbeddingsShapeToo()
    {
        const string Embeddings = """{"object":"list","data":[{"embedding":[0.1,0.2]}],"usage":{"prompt_tokens":8,"total_tokens":8}}""";
        var exchange = new Exchange(expectsUsage: true, usageAdded: false);
        using var observer = new ResponseObserver(new TrickleStream(Encoding.UTF8.GetBytes(Embeddings), 4), exchange, HttpStatusCode.OK, "application/json", null);

        Assert.Equal(Embeddings, await ReadAllAsync(observer));
        Assert.Equal(new TokenCounts(8, 0, 8), exchange.Tokens);
    }

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized, "application/json", 1)]
    [InlineData(HttpStatusCode.Unauthorized, "application/json", 3)]
    [InlineData(HttpStatusCode.OK, "application/json", 5)]
    [InlineData(HttpStatusCode.OK, "text/event-stream", 2)]
    public async Task Key_SplitAcrossReads_IsMaskedWithTheSameLength_WhateverTheStatus(HttpStatusCode status, string mediaType, int piece)
    {
        const string Key = "sk-real-upstream-key-123456";
        // "sk-real-" alone (a partial match that never completes) must come out unchanged at the end.
        var body = $"data: {{\"error\":{{\"message\":\"bad key {Key}, again {Key}\"}}}}\n\ndata: sk-sk-real-";
        using var observer = new ResponseObserver(new TrickleStream(Encoding.UTF8.GetBytes(body), piece), new Exchange(false, false), status, mediaType, Key);

        var output = await ReadAllAsync(observer);

        Assert.Equal(body.Replace(Key, new string('*', Key.Length)), output);
    }
}
