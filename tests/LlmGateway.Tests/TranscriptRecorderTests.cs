using Affinetes.LlmGateway.Proxy;
using Affinetes.LlmGateway.Transcripts;
using Affinetes.LlmGateway.Usage;

namespace Affinetes.LlmGateway.Tests;

/// <summary>The transcript recorder alone: its bounds, the repeated history kept once, masking, and collect forgetting.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class TranscriptRecorderTests
{
    private static ExchangeDraft Draft(string reply, params (string Role, string Content)[] messages)
    {
        var assembled = new ReplyAssembler();
        assembled.AddAnswer(JsonDocument.Parse(JsonSerializer.Serialize(new { model = "m", choices = new[] { new { index = 0, message = new { role = "assistant", content = reply }, finish_reason = "stop" } } })).RootElement);
        return new ExchangeDraft
        {
            StartedAt = DateTimeOffset.UtcNow,
            Endpoint = "chat/completions",
            Model = "m",
            Messages = [.. messages.Select(m => new ExchangeMessage { Role = m.Role, Content = m.Content })],
            Reply = assembled,
            Status = 200,
            Latency = TimeSpan.FromMilliseconds(12.5),
            Tokens = new TokenCounts(10, 2, 12),
        };
    }

    [Fact]
    public void Exchange_KeptWithItsMessagesReplyTokensAndLatency_CollectReturnsItOnce()
    {
        var recorder = new TranscriptRecorder(TranscriptBounds.Default);
        recorder.Add("7", Draft("Answer: 4", ("system", "Be careful."), ("user", "2+2?")), upstreamKey: null);

        var collected = recorder.Collect(["7", "8"]);

        var (exchanges, dropped) = Assert.Single(collected.Values);
        Assert.Equal(0, dropped);
        var exchange = Assert.Single(exchanges);
        Assert.Equal(["system", "user"], exchange.Messages.Select(m => m.Role));
        Assert.Equal("2+2?", exchange.Messages[1].Content);
        Assert.Equal(("Answer: 4", "stop", "m"), (exchange.Reply, exchange.FinishReason, exchange.Model));
        Assert.Equal((10L, 2L, 12L), (exchange.PromptTokens, exchange.CompletionTokens, exchange.TotalTokens));
        Assert.Equal((200, 12.5), (exchange.Status, exchange.LatencyMs));
        Assert.False(exchange.RequestTruncated || exchange.ReplyTruncated);
        Assert.Empty(recorder.Collect(["7"])); // forgotten once collected
        Assert.Equal(0, recorder.HeldChars);
    }

    [Fact]
    public void Conversation_TheHistoryEachTurnResendsIsKeptOnce()
    {
        var recorder = new TranscriptRecorder(TranscriptBounds.Default);
        recorder.Add("1", Draft("first answer", ("system", "rules"), ("user", "turn 1")), null);
        recorder.Add("1", Draft("second answer", ("system", "rules"), ("user", "turn 1"), ("assistant", "first answer"), ("user", "turn 2")), null);
        recorder.Add("1", Draft("changed", ("system", "other rules"), ("user", "turn 1")), null);

        var exchanges = recorder.Collect(["1"])["1"].Exchanges;

        Assert.Equal([0, 2, 0], exchanges.Select(e => e.RepeatedMessages));
        Assert.Equal(["assistant", "user"], exchanges[1].Messages.Select(m => m.Role));
        Assert.Equal("turn 2", exchanges[1].Messages[1].Content);
        Assert.Equal(2, exchanges[2].Messages.Count); // the history changed: sent whole
    }

    [Fact]
    public void Bounds_EachTextCutAtItsLimit_TheTaskSharesItsBudget_AndBeyondTheExchangeLimitOnlyCounted()
    {
        var recorder = new TranscriptRecorder(TranscriptBounds.Default with { MessageChars = 10, TaskChars = 25, ExchangesPerTask = 3 });
        recorder.Add("1", Draft("0123456789abc", ("user", "short"), ("user", "a much longer message")), null);
        recorder.Add("1", Draft("more", ("user", "next question")), null);
        recorder.Add("1", Draft("x", ("user", "q")), null);
        recorder.Add("1", Draft("y", ("user", "q4")), null);
        recorder.Add("1", Draft("z", ("user", "q5")), null);

        var (exchanges, dropped) = recorder.Collect(["1"])["1"];

        Assert.Equal(3, exchanges.Count);
        Assert.Equal(2, dropped);
        var first = exchanges[0];
        Assert.Equal(("short", false), (first.Messages[0].Content, first.Messages[0].Truncated));
        Assert.Equal(("a much lon", true), (first.Messages[1].Content, first.Messages[1].Truncated));
        Assert.True(first.RequestTruncated);
        Assert.Equal("0123456789", first.Reply); // 5 + 10 + 10 = 25: the task's budget is spent
        Assert.True(first.ReplyTruncated);
        Assert.All(exchanges.Skip(1), e =>
        {
            Assert.Equal("", e.Messages.Single().Content);
            Assert.True(e.RequestTruncated && e.ReplyTruncated);
            Assert.NotNull(e.TotalTokens); // the figures are kept when the text is not
        });
    }

    [Fact]
    public void Environment_PastItsMemoryForTranscripts_LaterExchangesAreCountedAsDropped()
    {
        var recorder = new TranscriptRecorder(TranscriptBounds.Default with { EnvironmentChars = 8 });
        recorder.Add("1", Draft("12345678", ("user", "")), null);
        recorder.Add("2", Draft("more", ("user", "q")), null);

        var collected = recorder.Collect(["1", "2"]);

        Assert.Single(collected["1"].Exchanges);
        Assert.Equal((0, 1), (collected["2"].Exchanges.Count, collected["2"].Dropped));
    }

    [Fact]
    public void UpstreamKey_IsMaskedInEveryTextKept()
    {
        const string Key = "sk-real-key-0123456789";
        var recorder = new TranscriptRecorder(TranscriptBounds.Default);
        recorder.Add("1", Draft($"you sent Bearer {Key}", ("user", $"echo {Key}")), Key);

        var exchange = recorder.Collect(["1"])["1"].Exchanges.Single();

        Assert.DoesNotContain(Key, JsonSerializer.Serialize(exchange, GatewayJson.Default.ExchangeRecord), StringComparison.Ordinal);
        Assert.Equal("you sent Bearer " + new string('*', Key.Length), exchange.Reply);
    }

    [Fact]
    public void Stream_ChunksAssembled_ContentReasoningAndToolCallsByIndex()
    {
        var reply = new ReplyAssembler();
        foreach (var chunk in new[]
        {
            """{"model":"m-1","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"think "}}]}""",
            """{"choices":[{"index":0,"delta":{"reasoning_content":"hard"}}]}""",
            """{"choices":[{"index":0,"delta":{"content":"The answer"}}]}""",
            """{"choices":[{"index":0,"delta":{"content":" is 4."}}]}""",
            """{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"add","arguments":"{\"a\":"}}]}}]}""",
            """{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"2}"}}]}}]}""",
            """{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}""",
            """{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}""",
        })
        {
            reply.AddEvent(Encoding.UTF8.GetBytes($"data: {chunk}\r\n\r\n"));
        }
        reply.AddEvent("data: [DONE]\n\n"u8);

        Assert.Equal(("The answer is 4.", "think hard", "m-1", "tool_calls"), (reply.Content, reply.Reasoning, reply.Model, reply.FinishReason));
        var call = JsonDocument.Parse(reply.ToolCalls!).RootElement.EnumerateArray().Single();
        Assert.Equal("call_1", call.GetProperty("id").GetString());
        Assert.Equal(("add", "{\"a\":2}"), (call.GetProperty("function").GetProperty("name").GetString(), call.GetProperty("function").GetProperty("arguments").GetString()));
        Assert.False(reply.Incomplete);
    }

    [Fact]
    public async Task Observer_RecordedStreamSplitAnywhere_AssemblesTheSameReply()
    {
        var events = string.Concat(new[] { "Hel", "lo", " world" }.Select(w => $"data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{w}\"}}}}]}}\n\n")) + "data: [DONE]\n\n";
        foreach (var piece in new[] { 1, 3, 4096 })
        {
            var exchange = new Exchange(expectsUsage: true, usageAdded: false) { Reply = new ReplyAssembler() };
            using var observer = new ResponseObserver(new TrickleStream(Encoding.UTF8.GetBytes(events), piece), exchange, HttpStatusCode.OK, "text/event-stream", null);
            await observer.CopyToAsync(Stream.Null);
            Assert.Equal("Hello world", exchange.Reply.Content);
        }
    }

    private sealed class TrickleStream(byte[] data, int piece) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, piece)], cancellationToken);
    }
}
