using System.Diagnostics;
using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;
using Microsoft.Data.Sqlite;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>Raw looks into a store file, as a user with the sqlite3 shell would take them.</summary>
internal static class StoreFile
{
    public static object? Scalar(string path, string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    public static List<string> Column(string path, string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<string>();
        while (reader.Read())
        {
            values.Add(reader.IsDBNull(0) ? "NULL" : Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
        }
        return values;
    }

    /// <summary>
    /// What a crash must never leave: a file SQLite finds damaged, a dangling reference, or a result row whose
    /// columns do not belong together (a value that does not parse, or whose task id or score is not the row's).
    /// </summary>
    public static void AssertIntact(string path)
    {
        Assert.Equal(["ok"], Column(path, "PRAGMA integrity_check"));
        Assert.Empty(Column(path, "PRAGMA foreign_key_check"));
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT task_id, error_kind, score, success, value, attempts, started_at, duration_ms FROM results";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var taskId = reader.GetInt64(0);
            if (reader.IsDBNull(1))
            {
                using var value = JsonDocument.Parse(reader.GetString(4));
                Assert.Equal(taskId, value.RootElement.GetProperty("task_id").GetInt64());
                Assert.Equal(value.RootElement.GetProperty("score").GetDouble(), reader.GetDouble(2));
                Assert.Equal(value.RootElement.GetProperty("success").GetBoolean() ? 1 : 0, reader.GetInt64(3));
            }
            Assert.True(reader.GetInt32(5) >= 1);
            Assert.True(DateTimeOffset.TryParse(reader.GetString(6), System.Globalization.CultureInfo.InvariantCulture, out _));
            Assert.True(reader.GetDouble(7) >= 0);
        }
    }
}

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ResultStoreTests
{
    private static TaskResult Result(long taskId, double score = 1, string? error = null, params AttemptError[] errors) => new()
    {
        TaskId = taskId,
        Score = error is null ? score : 0,
        Success = error is null,
        ErrorKind = error is null ? TaskErrorKind.None : TaskErrorKind.ActorError,
        Error = error,
        Value = error is null ? JsonSerializer.SerializeToElement(new { task_id = taskId, score, success = true }) : null,
        Attempts = Math.Max(1, errors.Length),
        AttemptErrors = errors,
        StartedAt = DateTimeOffset.UtcNow,
        Duration = TimeSpan.FromMilliseconds(12.5),
    };

    private static NewRun Run(string id, string? digest = "sha256:d") =>
        new(id, new EvaluationRequest { TaskIds = [], ImageDigest = digest, Environment = "env:dev" }, "{}");

    [Fact]
    public async Task Open_CreatesTheSchemaAtTheCurrentVersion_InWalMode()
    {
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        Assert.Equal(temp.Path, store.Path);
        Assert.Equal((long)Schema.Migrations.Count, StoreFile.Scalar(temp.Path, "PRAGMA user_version"));
        Assert.Equal("wal", StoreFile.Scalar(temp.Path, "PRAGMA journal_mode"));
        Assert.Equal(["errors", "llm_usage", "results", "run_progress", "runs", "transcripts"], StoreFile.Column(temp.Path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"));
        Assert.Empty(await store.ListRunsAsync());
    }

    [Fact]
    public async Task RunSettings_AreKeptWithTheRun_AndARunWithoutThemHasNone()
    {
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        var sqlite = store;
        sqlite.CreateRun(new NewRun("with", new EvaluationRequest
        {
            TaskIds = [],
            Settings = new Dictionary<string, string> { ["replicas"] = "2", ["llm_upstream"] = "https://llm.example/v1" },
        }, "{}"), [1, 2]);
        sqlite.CreateRun(Run("without"), [1]);
        var with = await store.GetRunAsync("with");
        Assert.Equal("2", with!.Settings["replicas"]);
        Assert.Equal("https://llm.example/v1", with.Settings["llm_upstream"]);
        Assert.Empty((await store.GetRunAsync("without"))!.Settings);
    }

    [Fact]
    public async Task Open_AStoreOfANewerSchema_IsRefused_SayingWhatToDo()
    {
        await using var temp = new TempStore();
        await (await temp.OpenAsync()).DisposeAsync();
        StoreFile.Scalar(temp.Path, "PRAGMA user_version = 99");
        var e = await Assert.ThrowsAsync<ResultStoreException>(temp.OpenAsync);
        Assert.Contains($"has schema version 99, newer than this version knows ({Schema.Migrations.Count})", e.Message);
        Assert.Contains("use a newer afs", e.Message);
    }

    [Fact]
    public async Task Open_AFileThatIsNotAStore_SaysSo()
    {
        await using var temp = new TempStore();
        await File.WriteAllTextAsync(temp.Path, "these are not the bytes of a SQLite database, not even close, and long enough to matter");
        var e = await Assert.ThrowsAsync<ResultStoreException>(temp.OpenAsync);
        Assert.Contains($"{temp.Path} cannot be used as a results store", e.Message);
        Assert.Contains("give another path", e.Message);
    }

    [Fact]
    public async Task ALaterMigration_KeepsEveryStoredResult()
    {
        await using var temp = new TempStore();
        var first = ResultStore.Open(temp.Path, Schema.Migrations, null);
        first.CreateRun(Run("r1"), [1, 2]);
        using (var writer = first.OpenWriter("r1"))
        {
            writer.Write([Result(1, 0.25), Result(2, 0.75)]);
        }
        string[] next = [.. Schema.Migrations, "ALTER TABLE results ADD COLUMN reviewer TEXT"];
        var upgraded = ResultStore.Open(temp.Path, next, null);
        Assert.Equal((long)next.Length, StoreFile.Scalar(temp.Path, "PRAGMA user_version"));
        Assert.Equal([0.25, 0.75], (await upgraded.GetResultsAsync("r1")).Select(r => r.Score));
        Assert.Equal(2L, StoreFile.Scalar(temp.Path, "SELECT COUNT(*) FROM results WHERE reviewer IS NULL"));
    }

    [Fact]
    public async Task Writer_ABatchIsOneTransaction_AllOfItOrNone()
    {
        await using var temp = new TempStore();
        var store = ResultStore.Open(temp.Path, Schema.Migrations, null);
        store.CreateRun(Run("r1"), [1, 2, 3, 4]);
        using var writer = store.OpenWriter("r1");
        writer.Write([Result(1)]);
        // The third result repeats an attempt number, so its error rows break a key: the whole batch must go.
        var broken = Result(3, 0, "x", new AttemptError(1, TaskErrorKind.Deadline, "slow"), new AttemptError(1, TaskErrorKind.ActorError, "x"));
        Assert.Throws<SqliteException>(() => writer.Write([Result(2), broken, Result(4)]));
        Assert.Equal([1L], (await store.GetResultsAsync("r1")).Select(r => r.TaskId));
        Assert.Equal(0L, StoreFile.Scalar(temp.Path, "SELECT COUNT(*) FROM errors"));
    }

    [Fact]
    public async Task Writer_KeepsTheFirstResultOfATask_AndEveryFailedAttempt()
    {
        await using var temp = new TempStore();
        var store = ResultStore.Open(temp.Path, Schema.Migrations, null);
        store.CreateRun(Run("r1"), [1, 2]);
        using (var writer = store.OpenWriter("r1"))
        {
            writer.Write([Result(1, 0.5)]);
            writer.Write([Result(1, 1.0), Result(2, 0, "boom", new AttemptError(1, TaskErrorKind.Deadline, "slow"), new AttemptError(2, TaskErrorKind.ActorError, "boom"))]);
        }
        var results = await store.GetResultsAsync("r1");
        Assert.Equal(0.5, results[0].Score);
        Assert.Equal((TaskErrorKind.ActorError, "boom", 2), (results[1].ErrorKind, results[1].Error, results[1].Attempts));
        Assert.Equal([new AttemptError(1, TaskErrorKind.Deadline, "slow"), new AttemptError(2, TaskErrorKind.ActorError, "boom")], results[1].AttemptErrors);
        var run = await store.GetRunAsync("r1");
        Assert.Equal((2, 2, 1, 0.25, 0.5), (run!.TaskCount, run.ResultCount, run.FailedCount, run.MeanScore, run.SuccessRate));
        Assert.Equal(RunStatus.Running, run.Status);
        Assert.Equal(RunStatus.Completed, store.FinishRun("r1"));
    }

    [Fact]
    public async Task Durations_ReadBack_ToTheTick()
    {
        // TimeSpan.FromMilliseconds truncates: ~6% of durations came back one tick short (12.3455 ms as 12.3454 ms).
        await using var temp = new TempStore();
        var store = ResultStore.Open(temp.Path, Schema.Migrations, null);
        var random = new Random(7);
        var durations = Enumerable.Range(0, 500).Select(_ => TimeSpan.FromTicks(random.NextInt64(1, 100_000_000))).ToList();
        store.CreateRun(Run("r1"), [.. Enumerable.Range(1, durations.Count).Select(i => (long)i)]);
        using (var writer = store.OpenWriter("r1"))
        {
            writer.Write([.. durations.Select((d, i) => Result(i + 1) with { Duration = d })]);
        }
        var results = await store.GetResultsAsync("r1");
        Assert.Equal(durations, results.OrderBy(r => r.TaskId).Select(r => r.Duration));
    }

    [Fact]
    public async Task ConcurrentWriters_FromTwoOpenings_OfOneFile_LoseNothing()
    {
        await using var temp = new TempStore();
        var a = ResultStore.Open(temp.Path, Schema.Migrations, null);
        var b = ResultStore.Open(temp.Path, Schema.Migrations, null);
        var writers = Enumerable.Range(0, 4).Select(i => Task.Run(() =>
        {
            var store = i % 2 == 0 ? a : b;
            var id = $"run{i}";
            store.CreateRun(Run(id), [.. Enumerable.Range(1, 3000).Select(t => (long)t)]);
            using var writer = store.OpenWriter(id);
            for (var start = 1; start <= 3000; start += 100)
            {
                writer.Write([.. Enumerable.Range(start, 100).Select(t => Result(t))]);
            }
            store.FinishRun(id);
        }));
        await Task.WhenAll(writers).Within(TimeSpan.FromSeconds(60), "four writers");
        Assert.Equal(12_000L, StoreFile.Scalar(temp.Path, "SELECT COUNT(*) FROM results"));
        Assert.All(await a.ListRunsAsync(), r => Assert.Equal((RunStatus.Completed, 3000), (r.Status, r.ResultCount)));
        StoreFile.AssertIntact(temp.Path);
    }

    [Fact]
    public async Task Cache_FindsOnlySuccessfulResults_OfTheSameEvaluation()
    {
        await using var temp = new TempStore();
        var store = ResultStore.Open(temp.Path, Schema.Migrations, null);
        store.CreateRun(Run("r1"), [1, 2, 3]);
        using (var writer = store.OpenWriter("r1"))
        {
            var unsuccessful = Result(3) with { Success = false };
            writer.Write([Result(1, 0.5), Result(2, error: "boom"), unsuccessful]);
        }
        var hits = store.FindCached("sha256:d", "evaluate", "task_id", "{}", [1, 2, 3, 4]);
        var hit = Assert.Single(hits).Value;
        Assert.Equal((1L, 0.5, true, 0), (hit.TaskId, hit.Score, hit.FromCache, hit.Attempts));
        Assert.Empty(store.FindCached("sha256:other", "evaluate", "task_id", "{}", [1]));
        Assert.Empty(store.FindCached("sha256:d", "generate", "task_id", "{}", [1]));
        Assert.Empty(store.FindCached("sha256:d", "evaluate", "id", "{}", [1]));
        Assert.Empty(store.FindCached("sha256:d", "evaluate", "task_id", """{"model":"x"}""", [1]));
    }

    [Fact]
    public void DefaultPath_IsUnderTheUserDataDirectory()
    {
        var saved = System.Environment.GetEnvironmentVariable(ResultStore.PathVariable);
        try
        {
            System.Environment.SetEnvironmentVariable(ResultStore.PathVariable, null);
            Assert.EndsWith(Path.Combine("affinetes", "results.db"), ResultStore.DefaultPath);
            Assert.StartsWith(System.Environment.GetFolderPath(System.Environment.SpecialFolder.LocalApplicationData, System.Environment.SpecialFolderOption.DoNotVerify), ResultStore.DefaultPath);
            System.Environment.SetEnvironmentVariable(ResultStore.PathVariable, "/tmp/elsewhere.db");
            Assert.Equal("/tmp/elsewhere.db", ResultStore.DefaultPath);
        }
        finally
        {
            System.Environment.SetEnvironmentVariable(ResultStore.PathVariable, saved);
        }
    }
}

/// <summary>The writer of a real evaluation, a separate process, killed with SIGKILL while it writes.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class StoreCrashTests(EvalHostFixture fixture) : IClassFixture<EvalHostFixture>
{
    private const int Tasks = 20_000;

    [Fact]
    public async Task WriterKilledWithSigkill_MidRun_LeavesNoCorruptOrHalfWrittenRow_AndTheRunResumesWithoutRepeats()
    {
        await using var temp = new TempStore();
        string? runId = null;
        var storedAtKill = 0L;
        for (var round = 0; round < 3; round++)
        {
            string[] arguments = runId is null ? ["start", "evaluate", $"{Tasks}", "16"] : ["resume", runId];
            using var worker = StartWorker(temp.Path, fixture.Host.Port, arguments);
            var line = await worker.StandardOutput.ReadLineAsync().Within(TimeSpan.FromSeconds(60), "the worker recording its run");
            if (line?.StartsWith("run ", StringComparison.Ordinal) != true)
            {
                worker.Kill();
                Assert.Fail($"the worker said '{line}': {await worker.StandardError.ReadToEndAsync().Within()}");
            }
            runId = line!["run ".Length..];
            // Kill it once it has committed a few hundred more results: it is writing batches the whole time.
            var target = storedAtKill + 500;
            await Bounded.Until(() => Task.FromResult(Stored(temp.Path) >= target || worker.HasExited), TimeSpan.FromSeconds(60), "results being stored");
            if (worker.HasExited)
            {
                Assert.Fail($"the worker exited ({worker.ExitCode}) before it could be killed: {await worker.StandardOutput.ReadToEndAsync()} {await worker.StandardError.ReadToEndAsync()}");
            }
            Signal(worker, "KILL");
            await worker.WaitForExitAsync().Within(what: "the killed worker exiting");
            Assert.Equal(137, worker.ExitCode);

            StoreFile.AssertIntact(temp.Path);
            var stored = Stored(temp.Path);
            Assert.InRange(stored, target, Tasks - 1);
            storedAtKill = stored;
        }

        // The killed run is still marked running; resuming it runs only what is missing.
        await using var store = await temp.OpenAsync();
        var info = await store.GetRunAsync(runId!);
        Assert.Equal((RunStatus.Running, Tasks, (int)storedAtKill), (info!.Status, info.TaskCount, info.ResultCount));
        var before = (await store.GetResultsAsync(runId!)).Select(r => r.TaskId).ToHashSet();
        await using var env = await fixture.LoadAsync();
        await EvalHostFixture.ResetAsync(env);
        var resumed = await EvaluationRunner.Create(env, store).ResumeAsync(runId!);
        Assert.Equal(Tasks - before.Count, resumed.ToRun);
        var results = await EvalHostFixture.ReadAllAsync(resumed, TimeSpan.FromSeconds(120));
        var calls = await EvalHostFixture.CallsAsync(env);
        Assert.DoesNotContain(calls, before.Contains);
        Assert.Equal(calls.Order(), results.Select(r => r.TaskId).Order());

        StoreFile.AssertIntact(temp.Path);
        Assert.Equal(Tasks, (long)StoreFile.Scalar(temp.Path, $"SELECT COUNT(DISTINCT task_id) FROM results WHERE run_id = '{runId}'")!);
        Assert.Equal(Tasks, (long)StoreFile.Scalar(temp.Path, $"SELECT COUNT(*) FROM results WHERE run_id = '{runId}'")!);
        Assert.Equal(RunStatus.Completed, (await store.GetRunAsync(runId!))!.Status);
    }

    private static long Stored(string path) => (long)StoreFile.Scalar(path, "SELECT COUNT(*) FROM results")!;

    private static Process StartWorker(string store, int port, string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "affinetes-eval-worker"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(store);
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        return Process.Start(start)!;
    }

    private static void Signal(Process process, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }
}
