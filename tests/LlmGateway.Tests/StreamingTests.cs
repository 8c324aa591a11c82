using OpenAI.Chat;

namespace Affinetes.LlmGateway.Tests;

[Trait(Tiers.Name, Tiers.Host)]
public sealed class StreamingTests
{
    private static HttpRequestMessage StreamRequest(string body) => new(HttpMethod.Post, "/v1/chat/completions") { Content = Json(body) };

    /// <summary>Reads SSE events ("data: ..." payloads) until one satisfies <paramref name="stop"/> or the stream ends.</summary>
    private static async Task<List<string>> ReadEventsAsync(StreamReader reader, Func<string, bool>? stop = null)
    {
        var events = new List<string>();
        while (await reader.ReadLineAsync().Within(what: "the next SSE line") is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add(line[6..]);
                if (stop?.Invoke(line[6..]) == true)
                {
                    break;
                }
            }
        }
        return events;
    }

    [Fact]
    public async Task Stream_FirstChunkReachesTheClient_WhileTheUpstreamIsStillHoldingTheRest()
    {
        var rest = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var gateway = await StartAsync(_ => LlmReply.Text("one two three") with { HoldAfterFirstChunk = rest.Task });
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });
        using var client = gateway.Api(token);

        using var response = await client.SendAsync(StreamRequest(ChatBody(extra: ""","stream":true""")), HttpCompletionOption.ResponseHeadersRead).Within();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var first = await ReadEventsAsync(reader, _ => true);

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("\"role\":\"assistant\"", Assert.Single(first));
        Assert.Equal(0, gateway.Upstream.Finished); // the upstream has not finished: the gateway did not wait for it
        rest.SetResult();
        var others = await ReadEventsAsync(reader);
        Assert.Equal("[DONE]", others[^1]);
        Assert.Equal("one two three", string.Concat(others.Where(e => e != "[DONE]").Select(e =>
            JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var c) ? c.GetString() : "")));
    }

    [Fact]
    public async Task Stream_WithoutUsageAsked_GatewayCountsTheUpstreamsUsage_AndTheClientSeesNoExtraChunk()
    {
        await using var gateway = await StartAsync(_ => LlmReply.Text("a b c d") with { Usage = (11, 4) });
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });
        using var client = gateway.Api(token);

        using var response = await client.SendAsync(StreamRequest(ChatBody(extra: ""","stream":true""")), HttpCompletionOption.ResponseHeadersRead).Within();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = await ReadEventsAsync(reader);

        var sent = JsonDocument.Parse(Assert.Single(gateway.Upstream.Requests).Body).RootElement;
        Assert.True(sent.GetProperty("stream_options").GetProperty("include_usage").GetBoolean()); // the gateway asked for it
        Assert.Equal("[DONE]", events[^1]);
        Assert.All(events.SkipLast(1), e => Assert.Equal(1, JsonDocument.Parse(e).RootElement.GetProperty("choices").GetArrayLength()));
        var usage = await gateway.UsageAsync("arith");
        Assert.Equal((11, 4, 15), (usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens));
        Assert.Equal(gateway.Upstream.ReportedTokens, (usage.PromptTokens, usage.CompletionTokens));
    }

    [Fact]
    public async Task OpenAiSdk_Stream_ReceivesTheUsageChunkItAskedFor_AndGatewayFiguresMatchIt()
    {
        await using var gateway = await StartAsync(_ => LlmReply.Text("the answer is four") with { Usage = (21, 4) });
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });

        var text = new StringBuilder();
        ChatTokenUsage? reported = null;
        using var limit = new CancellationTokenSource(Bounded.Default);
        await foreach (var update in gateway.OpenAi(token).CompleteChatStreamingAsync([SdkMessage.CreateUserMessage("2+2?")], new ChatCompletionOptions(), limit.Token))
        {
            text.Append(string.Concat(update.ContentUpdate.Select(p => p.Text)));
            reported ??= update.Usage;
        }

        Assert.Equal("the answer is four", text.ToString());
        var sent = JsonDocument.Parse(Assert.Single(gateway.Upstream.Requests).Body).RootElement;
        if (sent.TryGetProperty("stream_options", out var options) && options.GetProperty("include_usage").GetBoolean())
        {
            Assert.NotNull(reported); // the SDK asked for usage itself: the chunk is its to see
            Assert.Equal((21, 4), (reported.InputTokenCount, reported.OutputTokenCount));
        }
        var usage = await gateway.UsageAsync("arith");
        Assert.Equal((21, 4, 25), (usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens));
    }

    [Fact]
    public async Task Stream_WithUsageInEveryChunk_CountsTheLastReportOnce()
    {
        await using var gateway = await StartAsync(_ => LlmReply.Text("a b c") with { Usage = (7, 3), UsageInEveryChunk = true });
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });
        using var client = gateway.Api(token);

        using var response = await client.SendAsync(StreamRequest(ChatBody(extra: ""","stream":true,"stream_options":{"include_usage":true}""")), HttpCompletionOption.ResponseHeadersRead).Within();
        var body = await response.Content.ReadAsStringAsync().Within();

        Assert.Contains("\"choices\":[]", body); // asked for by the client: passed through
        var usage = await gateway.UsageAsync("arith");
        Assert.Equal((7, 3, 10), (usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens));
    }
}
