using System.Net;
using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

public sealed class HelpersHostFixture : IAsyncLifetime
{
    public HostUnderTest Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await HostUnderTest.StartAsync("helpers_env.py");

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>
/// The Python modules the host layer ships for environments written for the original (<c>affinetes.core.openenv</c>,
/// <c>affinetes.core.llm_chat</c>, <c>request_logger</c>), used from a real env.py; the LLM helper talks real HTTP to
/// the local OpenAI-compatible server.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class HelperModulesTests(HelpersHostFixture fixture) : IClassFixture<HelpersHostFixture>
{
    private HostUnderTest Host => fixture.Host;

    private async Task<JsonElement> ResultAsync(string method, object kwargs)
    {
        var (status, body) = await Host.CallAsync("/" + method, JsonSerializer.Serialize(kwargs));
        Assert.True(status == HttpStatusCode.OK, $"{method}: {(int)status} {body}");
        return body.GetProperty("result");
    }

    private static string? Text(JsonElement result, string name) =>
        result.GetProperty(name).ValueKind == JsonValueKind.Null ? null : result.GetProperty(name).GetString();

    [Fact]
    public async Task Modules_ComeFromTheHostLayer_AfterTheEnvironmentsOwnPath()
    {
        var where = await ResultAsync("where", new { });
        Assert.StartsWith(Path.Combine(AppContext.BaseDirectory, "python"), where.GetProperty("affinetes").GetString());
        Assert.StartsWith(Path.Combine(AppContext.BaseDirectory, "python"), where.GetProperty("request_logger").GetString());
        var path = where.GetProperty("path").EnumerateArray().Select(p => p.GetString()).ToList();
        Assert.True(path.IndexOf(Path.Combine(AppContext.BaseDirectory, "python")) > path.IndexOf(Path.GetDirectoryName(HostUnderTest.EnvPath("helpers_env.py"))),
            "the environment's directory must come first, so its own request_logger.py wins");
    }

    [Fact]
    public async Task OpenEnvResponse_SerialisesWithTheOriginalsFieldsInOrder()
    {
        var result = await ResultAsync("reset", new { task_id = 4 });
        Assert.Equal("""{"observation":"task 4","reward":0.0,"done":false,"truncated":false,"episode_id":"ep-1","info":{"task_id":4}}""",
            result.GetRawText());
        var lazy = await ResultAsync("lazy_exports", new { });
        Assert.True(lazy.GetProperty("same_class").GetBoolean());
        Assert.True(lazy.GetProperty("remove_think_tags").GetBoolean());
    }

    /// <summary>
    /// <c>affinetes.core.logprobs_utils</c>, which SWE-INFINITE, knowledge_eval, openspiel and qqr import when asked
    /// for log-probabilities: the conversation rendered with the chat template, one echo pass at /completions, and
    /// the top-N mappings kept for the assistant's tokens only.
    /// </summary>
    [Fact]
    public async Task LogprobsUtils_CollectsTheAssistantTokensTopLogprobs_ByOneEchoPass()
    {
        await using var llm = await LocalLlmServer.StartAsync();
        var conversation = new object[]
        {
            new { role = "system", content = "Be brief." },
            new { role = "user", content = "2+2? {braces} stay" },
            new { role = "assistant", content = new object[] { new { type = "text", text = "4" }, new { type = "image_url", image_url = "x" } } },
            new { role = "tool", content = "left out: the template has no tool role" },
        };
        var result = await ResultAsync("logprobs", new { base_url = llm.BaseUrl.ToString(), conversation });
        const string text = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2? {braces} stay<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n";
        Assert.Equal(text, result.GetProperty("text").GetString());
        var assistantStart = text.IndexOf("<|im_start|>assistant", StringComparison.Ordinal);
        Assert.Equal($"[[{assistantStart},{text.Length}]]", result.GetProperty("ranges").GetRawText());

        var full = result.GetProperty("full_logprobs");
        Assert.Equal(text, full.GetProperty("full").GetString());
        var tokenIds = full.GetProperty("token_ids").EnumerateArray().Select(t => t.GetInt32()).ToList();
        var logprobs = full.GetProperty("logprobs").EnumerateArray().ToList();
        Assert.Equal((text.Length + 3) / 4, logprobs.Count);
        Assert.Equal(Enumerable.Range(0, logprobs.Count).Select(i => i * 4), tokenIds);
        for (var i = 0; i < logprobs.Count; i++)
        {
            var inAssistant = i * 4 >= assistantStart;
            Assert.True(inAssistant == (logprobs[i].ValueKind == JsonValueKind.Object), $"token {i} at {i * 4}: {logprobs[i]}");
            if (inAssistant)
            {
                Assert.Equal(-1.5, logprobs[i].GetProperty("~").GetDouble());
            }
        }

        using var sent = JsonDocument.Parse(Assert.Single(llm.CompletionRequests));
        Assert.Equal(text, sent.RootElement.GetProperty("prompt").GetString());
        Assert.True(sent.RootElement.GetProperty("echo").GetBoolean());
        Assert.Equal(20, sent.RootElement.GetProperty("logprobs").GetInt32());
        Assert.Equal(1, sent.RootElement.GetProperty("max_tokens").GetInt32());
        Assert.False(sent.RootElement.GetProperty("stream").GetBoolean());
    }

    [Fact]
    public async Task LogprobsUtils_EndpointWithoutEcho_GivesNone_AndNoAssistantTurn_AsksNothing()
    {
        await using var llm = await LocalLlmServer.StartAsync();
        llm.CompletionsStatus = 404;
        var asked = await ResultAsync("logprobs", new { base_url = llm.BaseUrl.ToString(), conversation = new[] { new { role = "user", content = "hi" }, new { role = "assistant", content = "yo" } } });
        Assert.Equal(JsonValueKind.Null, asked.GetProperty("full_logprobs").ValueKind);
        Assert.False(asked.TryGetProperty("logprobs_error", out _), asked.GetRawText());
        Assert.Single(llm.CompletionRequests);

        var userOnly = await ResultAsync("logprobs", new { base_url = llm.BaseUrl.ToString(), conversation = new[] { new { role = "user", content = "hi" } }, chat_template = "llama" });
        Assert.Equal(JsonValueKind.Null, userOnly.GetProperty("full_logprobs").ValueKind);
        Assert.Single(llm.CompletionRequests);
    }

    [Fact]
    public async Task LlmChat_Streaming_JoinsContentAndReasoning_AndReportsUsage()
    {
        await using var llm = await LocalLlmServer.StartAsync(_ => LlmReply.Text("  The answer is 42.  ") with { Reasoning = "Let me think it over." });
        var result = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString(), prompt = "what is six times seven", temperature = 0.2, seed = 7 });
        Assert.Equal("The answer is 42.", Text(result, "content"));
        Assert.Equal("Let me think it over.", Text(result, "reasoning"));
        var usage = result.GetProperty("usage");
        Assert.Equal(5, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(4, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(JsonValueKind.Null, usage.GetProperty("prompt_tokens_details").ValueKind);
        Assert.Equal("The answer is 42.", result.GetProperty("unpacked")[0].GetString());

        var request = Assert.Single(llm.Requests);
        using var sent = JsonDocument.Parse(request.Body);
        Assert.True(sent.RootElement.GetProperty("stream").GetBoolean());
        Assert.True(sent.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal(0.2, sent.RootElement.GetProperty("temperature").GetDouble());
        Assert.Equal(7, sent.RootElement.GetProperty("seed").GetInt32());
        Assert.Equal("Bearer test-key", request.Authorization);
        Assert.Equal("what is six times seven", request.LastUserMessage);
    }

    [Fact]
    public async Task LlmChat_NotStreaming_LeavesOutUnsetSamplingParameters()
    {
        await using var llm = await LocalLlmServer.StartAsync(_ => LlmReply.Text("plain answer\n") with { Reasoning = "why" });
        var result = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString(), stream = false });
        Assert.Equal("plain answer", Text(result, "content"));
        Assert.Equal("why", Text(result, "reasoning"));
        using var sent = JsonDocument.Parse(Assert.Single(llm.Requests).Body);
        Assert.False(sent.RootElement.GetProperty("stream").GetBoolean());
        Assert.False(sent.RootElement.TryGetProperty("temperature", out _));
        Assert.False(sent.RootElement.TryGetProperty("seed", out _));
        Assert.False(sent.RootElement.TryGetProperty("stream_options", out _));
    }

    [Fact]
    public async Task LlmChat_StripsThinkTags_WhenAsked_AndAnEmptyRemainderIsNone()
    {
        await using var llm = await LocalLlmServer.StartAsync(r => LlmReply.Text(r.LastUserMessage == "only thoughts"
            ? "<think>nothing but thoughts</think>"
            : "<think>step 1\nstep 2</think>\n\nFinal: 9"));
        var stripped = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString(), strip_think_tags = true });
        Assert.Equal("Final: 9", Text(stripped, "content"));
        var kept = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString() });
        Assert.StartsWith("<think>step 1", Text(kept, "content"));
        var empty = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString(), prompt = "only thoughts", strip_think_tags = true, stream = false });
        Assert.Null(Text(empty, "content"));
    }

    [Theory]
    [InlineData("<think>a</think>answer", "answer")]
    [InlineData("<THINKING>x\ny</THINKING> done", "done")]
    [InlineData("half a thought</think>the rest", "the rest")]
    [InlineData("first</think>second</think>third", "third")]
    [InlineData("keep this<think>cut from here", "keep this")]
    [InlineData("a\n\n\n\nb", "a\n\nb")]
    [InlineData("  nothing to strip  ", "nothing to strip")]
    public async Task RemoveThinkTags_BehavesAsDocumented(string text, string expected)
    {
        var result = await ResultAsync("think", new { text });
        Assert.Equal(expected, result.GetString());
    }

    [Fact]
    public async Task LlmChat_RetriesServerErrors_WithBackoff_ThenSucceeds()
    {
        var calls = 0;
        await using var llm = await LocalLlmServer.StartAsync(_ => Interlocked.Increment(ref calls) == 1
            ? LlmReply.Error(503, "overloaded")
            : LlmReply.Text("second time lucky"));
        var result = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString(), max_retries = 2 });
        Assert.Equal("second time lucky", Text(result, "content"));
        Assert.Equal(2, llm.Requests.Count);
    }

    [Fact]
    public async Task LlmChat_ServerErrorsExhaustRetries_WithTheOriginalsMessage()
    {
        await using var llm = await LocalLlmServer.StartAsync(_ => LlmReply.Error(500, "boom"));
        var result = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString(), max_retries = 1 });
        Assert.Equal("ValueError", Text(result, "error"));
        Assert.Equal("API call failed after 2 attempts: Error code: 500 - {'error': {'message': 'boom', 'type': 'server_error', 'param': None, 'code': None}}",
            Text(result, "message"));
        Assert.Equal(2, llm.Requests.Count);
    }

    [Fact]
    public async Task LlmChat_ContextTooLong_IsAValueErrorAtOnce()
    {
        await using var llm = await LocalLlmServer.StartAsync(_ => LlmReply.Error(400, "This model's maximum context length is 8192 tokens", "invalid_request_error", "context_length_exceeded"));
        var result = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString(), max_retries = 3 });
        Assert.Equal("ValueError", Text(result, "error"));
        Assert.StartsWith("Context length exceeded: Error code: 400 - {'error':", Text(result, "message"));
        Assert.Single(llm.Requests);
    }

    [Theory]
    [InlineData(400, "API error: Error code: 400 - {'error': {'message': 'bad', 'type': 'invalid_request_error', 'param': None, 'code': None}}")]
    [InlineData(429, "API error 429: Error code: 429 - {'error': {'message': 'bad', 'type': 'invalid_request_error', 'param': None, 'code': None}}")]
    public async Task LlmChat_ClientErrors_AreNotRetried(int status, string message)
    {
        await using var llm = await LocalLlmServer.StartAsync(_ => LlmReply.Error(status, "bad", "invalid_request_error"));
        var result = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString(), max_retries = 3 });
        Assert.Equal(message, Text(result, "message"));
        Assert.Single(llm.Requests);
    }

    [Fact]
    public async Task LlmChat_StalledStream_TimesOutPerChunk()
    {
        await using var llm = await LocalLlmServer.StartAsync(_ => LlmReply.Text("slow words here") with { ChunkDelay = TimeSpan.FromSeconds(5) });
        var result = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString(), chunk_timeout = 0.5 });
        Assert.Equal("ValueError", Text(result, "error"));
        Assert.Equal("API call failed after 1 attempts: Stream timeout: no chunk received for 0.5s", Text(result, "message"));
    }

    [Fact]
    public async Task LlmChat_SlowAnswer_TimesOutAsTheClientsReadTimeout()
    {
        await using var llm = await LocalLlmServer.StartAsync(_ => LlmReply.Text("late") with { Delay = TimeSpan.FromSeconds(10) });
        var own = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString(), stream = false, timeout = 0.5 });
        Assert.Equal("API call failed after 1 attempts: Request timed out.", Text(own, "message"));
        var client = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString(), use_client = true, read_timeout = 0.5 });
        Assert.Equal("API call failed after 1 attempts: Request timed out.", Text(client, "message"));
    }

    [Fact]
    public async Task LlmChat_NobodyListening_IsAConnectionError()
    {
        var port = DockerEngine.FreeLoopbackPort();
        var result = await ResultAsync("chat", new { base_url = $"http://127.0.0.1:{port}/v1", max_retries = 0 });
        Assert.Equal("API call failed after 1 attempts: Connection error.", Text(result, "message"));
    }

    [Fact]
    public async Task LlmChat_CreateClient_IsReusedAcrossCalls_WithItsOwnKey()
    {
        await using var llm = await LocalLlmServer.StartAsync(_ => LlmReply.Text("ok"));
        for (var i = 0; i < 3; i++)
        {
            var result = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString() + "/", use_client = true });
            Assert.Equal("ok", Text(result, "content"));
        }
        Assert.All(llm.Requests, r => Assert.Equal("Bearer client-key", r.Authorization));
        Assert.Equal(3, llm.Requests.Count);
    }

    [Fact]
    public async Task LlmChat_MaxChunks_StopsTheStream()
    {
        await using var llm = await LocalLlmServer.StartAsync(_ => LlmReply.Text("one two three four five six"));
        var result = await ResultAsync("chat", new { base_url = llm.BaseUrl.ToString(), max_chunks = 3 });
        // chunk 1 is the role, chunks 2 and 3 the first two words
        Assert.Equal("one two", Text(result, "content"));
    }

    [Fact]
    public async Task RequestLogger_LogsWithContext_ElapsedTime_AndErrors()
    {
        var lines = (await ResultAsync("logged", new { task_id = 7, fail = true })).EnumerateArray().Select(l => l.GetString()!).ToList();
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \[info     \] outside_request\s+note=base$", lines[0]);
        Assert.Matches(@"\[info     \] request_start\s+elapsed_ms=\d+ req_ctx=task_id:7\|type:sat\|seed:3\|miner:miner-7\|extra:x$", lines[1]);
        Assert.Matches(@"\[info     \] llm_call_start\s+attempt=1 elapsed_ms=\d+ req_ctx=task_id:7", lines[2]);
        Assert.Matches(@"\[info     \] bound\s+n=2 req_ctx=task_id:7", lines[3]);
        Assert.Matches(@"\[error    \] request_error\s+elapsed_ms=\d+ error=model said no error_type=RuntimeError req_ctx=", lines[4]);
        Assert.Matches(@"\[info     \] after_request$", lines[5]);
        Assert.Equal(6, lines.Count); // the debug event is filtered out
    }
}
