using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>Transcripts in the results store: beside their results, compressed, appended to, served with cached results.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class TranscriptStoreTests
{
    private static ExchangeRecord Exchange(string question, string reply) => new()
    {
        StartedAt = DateTimeOffset.UtcNow,
        Endpoint = "chat/completions",
        Model = "m",
        Status = 200,
        LatencyMs = 42,
        PromptTokens = 10,
        CompletionTokens = 3,
        TotalTokens = 13,
        Messages = [new ExchangeMessage { Role = "system", Content = "Be brief." }, new ExchangeMessage { Role = "user", Content = question }],
        Reply = reply,
    };

    private static TaskResult Result(long taskId, LlmTranscript? transcript) => new()
    {
        TaskId = taskId,
        Score = 1,
        Success = true,
        Value = JsonSerializer.SerializeToElement(new { task_id = taskId, score = 1.0, success = true }),
        Attempts = 1,
        StartedAt = DateTimeOffset.UtcNow,
        Duration = TimeSpan.FromMilliseconds(5),
        Transcript = transcript,
    };

    private static NewRun Run(string id) => new(id, new EvaluationRequest { TaskIds = [], ImageDigest = "sha256:d" }, "{}");

    [Fact]
    public async Task Transcript_StoredWithItsResult_Compressed_ReadWithOneTask_NotWithAll()
    {
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        var sqlite = store;
        sqlite.CreateRun(Run("r"), [1, 2]);
        using (var writer = sqlite.OpenWriter("r"))
        {
            writer.Write([Result(1, new LlmTranscript([Exchange("2+2?", "Answer: 4"), Exchange("and 3+3?", "Answer: 6")], ExchangesDropped: 1)), Result(2, null)]);
        }

        var one = await store.GetResultAsync("r", 1);
        var transcript = one!.Transcript!;
        Assert.Equal(["Answer: 4", "Answer: 6"], transcript.Exchanges.Select(e => e.Reply));
        Assert.Equal(["Be brief.", "2+2?"], transcript.Exchanges[0].Messages.Select(m => m.Content));
        Assert.Equal(1, transcript.ExchangesDropped);
        Assert.Null((await store.GetResultAsync("r", 2))!.Transcript);
        Assert.Null(await store.GetResultAsync("r", 3));
        Assert.All(await store.GetResultsAsync("r"), r => Assert.Null(r.Transcript));
        Assert.Equal("1f8b", Convert.ToHexStringLower((byte[])StoreFile.Scalar(temp.Path, "SELECT substr(data, 1, 2) FROM transcripts")!)); // gzip
        Assert.Equal(2L, StoreFile.Scalar(temp.Path, "SELECT exchanges FROM transcripts WHERE task_id = 1"));
    }

    [Fact]
    public async Task LaterParts_AreAppendedInOrder_AndACachedResultShowsItsSourcesTranscript()
    {
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        var sqlite = store;
        sqlite.CreateRun(Run("first"), [1]);
        using (var writer = sqlite.OpenWriter("first"))
        {
            writer.Write([Result(1, new LlmTranscript([Exchange("q1", "a1")]))]);
        }
        sqlite.AddTranscripts("first", new Dictionary<long, LlmTranscript> { [1] = new([Exchange("late question", "late answer")], 2) });
        sqlite.CreateRun(Run("second"), [1]);
        var cached = sqlite.FindCached("sha256:d", "evaluate", "task_id", "{}", [1])[1];
        using (var writer = sqlite.OpenWriter("second"))
        {
            writer.Write([cached]);
        }

        var first = (await store.GetResultAsync("first", 1))!.Transcript!;
        Assert.Equal(["a1", "late answer"], first.Exchanges.Select(e => e.Reply));
        Assert.Equal(2, first.ExchangesDropped);
        var served = (await store.GetResultAsync("second", 1))!;
        Assert.True(served.FromCache);
        Assert.Equal(["a1", "late answer"], served.Transcript!.Exchanges.Select(e => e.Reply));
        Assert.Equal(2L, StoreFile.Scalar(temp.Path, "SELECT COUNT(*) FROM transcripts")); // nothing copied
    }

    [Fact]
    public async Task StoreOfSchema3_Upgraded_ItsRunsKeepTranscripts_AndTheirResultsReadAsBefore()
    {
        await using var temp = new TempStore();
        var old = ResultStore.Open(temp.Path, [.. Schema.Migrations.Take(3)], null);
        using (var connection = old.Connect())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                INSERT INTO runs (id, created_at, status, method, kwargs, task_id_parameter, task_ids, task_count, concurrency, retries, retry_delay_ms, use_cache)
                VALUES ('old', '2026-11-01T10:00:00.000Z', 'completed', 'evaluate', '{}', 'task_id', '[1]', 1, 1, 0, 0, 1);
                INSERT INTO results (run_id, task_id, score, success, value, attempts, started_at, duration_ms) VALUES ('old', 1, 0.5, 1, '{"score":0.5}', 1, '2026-11-01T10:00:00.000Z', 3);
                """;
            command.ExecuteNonQuery();
        }

        await using var store = await temp.OpenAsync();

        Assert.True((await store.GetRunAsync("old"))!.RecordTranscripts);
        var result = await store.GetResultAsync("old", 1);
        Assert.Equal(0.5, result!.Score);
        Assert.Null(result.Transcript);
    }
}

/// <summary>The runner with a real gateway in front of the local model: what each task said and heard is stored with it, or not, as asked.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class TranscriptRunTests
{
    [Fact]
    public async Task Run_ThroughTheGateway_EachTaskStoredWithItsConversation_StreamedRepliesAssembled_AndNoneWhenRecordingIsOff()
    {
        await using var upstream = await LocalLlmServer.StartAsync(request => LlmReply.Text($"This is {request.LastUserMessage.Split(',')[0]}.") with { Usage = (12, 4) });
        await using var gateway = await InProcessGateway.StartAsync(upstream.BaseUrl);
        await using var host = HostProcess.Start(new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", "chat_env.py") });
        await host.WaitReadyAsync();
        await using var inner = await EvalHostFixture.LoadAsync(host.Port);
        var (environment, token) = await gateway.FrontAsync(inner, new GatewayTenant { Name = "chat" });
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        var runner = EvaluationRunner.Create(environment, store);
        EvaluationRequest Request(bool record) => new()
        {
            TaskIds = [1, 2, 3],
            Kwargs = new Dictionary<string, object?> { ["base_url"] = environment.LlmBaseUrl, ["api_key"] = token, ["model"] = "m", ["stream"] = true, ["turns"] = 2 },
            UseCache = false,
            RecordTranscripts = record,
        };

        var recorded = await runner.StartAsync(Request(record: true)).Within();
        var yielded = await EvalHostFixture.ReadAllAsync(recorded);
        var quiet = await runner.StartAsync(Request(record: false)).Within();
        await EvalHostFixture.ReadAllAsync(quiet);

        Assert.All(yielded, r => Assert.Equal(2, r.Transcript?.Exchanges.Count));
        var task2 = (await store.GetResultAsync(recorded.Id, 2).Within())!;
        Assert.Equal(1.0, task2.Score);
        var (first, second) = (task2.Transcript!.Exchanges[0], task2.Transcript.Exchanges[1]);
        Assert.Equal(["system", "user"], first.Messages.Select(m => m.Role));
        Assert.Equal("This is Task 2.", first.Reply); // a stream, assembled
        Assert.True(first.Stream);
        Assert.Equal(2, second.RepeatedMessages);
        Assert.Equal(["This is Task 2.", "Task 2, turn 2: which task is this?"], second.Messages.Select(m => m.Content));
        Assert.Equal((2L, 32L), (task2.LlmUsage!.Requests, task2.LlmUsage.TotalTokens));
        Assert.False((await store.GetRunAsync(quiet.Id))!.RecordTranscripts);
        var unrecorded = (await store.GetResultAsync(quiet.Id, 2).Within())!;
        Assert.Null(unrecorded.Transcript);
        Assert.Equal(2L, unrecorded.LlmUsage!.Requests); // the usage is kept all the same
    }
}
