using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.Tests;

/// <summary>
/// A results store in a temporary directory, written directly with the store's own writer (no environment), for
/// tests that need runs of given shapes: transcripts, episodes, runs in progress.
/// </summary>
public sealed class SeededStore : IAsyncDisposable
{
    private SeededStore(string directory, ResultStore store)
    {
        Directory = directory;
        Store = store;
    }

    public string Directory { get; }

    public string Path => System.IO.Path.Combine(Directory, "results.db");

    public ResultStore Store { get; }

    internal ResultStore Sqlite => Store;

    public static async Task<SeededStore> CreateAsync()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("affinetes-seeded-").FullName;
        return new SeededStore(directory, await ResultStore.OpenAsync(System.IO.Path.Combine(directory, "results.db")));
    }

    /// <summary>Records run <paramref name="id"/> of <paramref name="tasks"/> tasks and writes <paramref name="results"/>; finished unless told not to.</summary>
    public void AddRun(string id, int tasks, IEnumerable<TaskResult> results, string? label = null, string? model = null, string? digest = "sha256:0123456789abcdef", bool finish = true)
    {
        var kwargs = model is null ? "{}" : JsonSerializer.Serialize(new { model });
        Sqlite.CreateRun(new NewRun(id, new EvaluationRequest { TaskIds = [], Environment = "seeded-env:dev", ImageDigest = digest, Label = label }, kwargs),
            [.. Enumerable.Range(1, tasks).Select(i => (long)i)]);
        using (var writer = Sqlite.OpenWriter(id))
        {
            writer.Write([.. results]);
        }
        if (finish)
        {
            Sqlite.FinishRun(id);
        }
    }

    public static TaskResult Result(long taskId, double score, object? value = null, LlmTranscript? transcript = null, string? error = null) => new()
    {
        TaskId = taskId,
        Score = error is null ? score : 0,
        Success = error is null && score >= 0.5,
        ErrorKind = error is null ? TaskErrorKind.None : TaskErrorKind.ActorError,
        Error = error,
        Value = error is null ? JsonSerializer.SerializeToElement(value ?? new { task_id = taskId, score }) : null,
        Attempts = 1,
        StartedAt = DateTimeOffset.UtcNow.AddSeconds(-10 + taskId * 0.01),
        Duration = TimeSpan.FromMilliseconds(100 + taskId),
        Transcript = transcript,
        LlmUsage = transcript is null ? null : new LlmTaskUsage(transcript.Exchanges.Count, 0, 31, 7, 38, 512),
    };

    /// <summary>A two-exchange conversation about task <paramref name="taskId"/>, the second streamed.</summary>
    public static LlmTranscript Chat(long taskId) => new(
    [
        new ExchangeRecord
        {
            StartedAt = DateTimeOffset.UtcNow, Endpoint = "chat/completions", Model = "baseline-model", Status = 200, LatencyMs = 412, PromptTokens = 20, CompletionTokens = 5, TotalTokens = 25,
            Messages =
            [
                new ExchangeMessage { Role = "system", Content = "You are a careful mathematician.\nAnswer on the last line." },
                new ExchangeMessage { Role = "user", Content = $"Task {taskId}: Ada has 3 apples <and> 4 more.\nHow many?" },
            ],
            Reply = "3 + 4 = 7\nAnswer: 7",
            FinishReason = "stop",
        },
        new ExchangeRecord
        {
            StartedAt = DateTimeOffset.UtcNow, Endpoint = "chat/completions", Model = "baseline-model", Status = 200, LatencyMs = 100, PromptTokens = 11, CompletionTokens = 2, TotalTokens = 13,
            Stream = true, RepeatedMessages = 2,
            Messages = [new ExchangeMessage { Role = "assistant", Content = "3 + 4 = 7\nAnswer: 7" }, new ExchangeMessage { Role = "user", Content = "Sure?" }],
            Reply = "Yes.", Reasoning = "Re-adding: 3 + 4 is 7.",
        },
    ]);

    /// <summary>An episode's result, shaped as the episode runner stores it.</summary>
    public static object Episode(long taskId) => new
    {
        score = 0.5,
        success = true,
        reward = 1.5,
        done = true,
        truncated = false,
        steps = 2,
        episode_id = $"ep-{taskId}",
        reset = new { observation = "You are in a maze.\nExits: north.", info = new { } },
        trajectory = new object[]
        {
            new { step = 1, action = "go north", observation = "A wall.\nExits: east.", reward = 0.5, done = false, truncated = false, info = new { }, model = new { latency_ms = 120.0, prompt_tokens = 40, completion_tokens = 3 } },
            new { step = 2, action = "go east", observation = "The exit!", reward = 1.0, done = true, truncated = false, info = new { }, model = new { latency_ms = 95.0, prompt_tokens = 52, completion_tokens = 3 } },
        },
        stop_reason = "done",
    };

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
