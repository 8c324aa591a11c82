using System.Text.Json;
using System.Text.RegularExpressions;
using Affinetes.Baseline;
using Affinetes.Testing;
using Microsoft.Data.Sqlite;

namespace Affinetes.Afs.Tests;

/// <summary>afs eval, runs, show, score and validate as a user runs them, against real containers.</summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(AfsEvalCollection.Name)]
public sealed partial class AfsEvalDockerTests(AfsEvalFixture fixture) : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-afs-eval-");

    private string Store => Path.Combine(_work.FullName, "results.db");

    public void Dispose() => _work.Delete(recursive: true);

    private static Task<(int Exit, string Output, string Error)> AfsAsync(params string[] args) => AfsEnvironmentFixture.AfsAsync(args);

    private static List<JsonElement> JsonLines(string path) =>
        [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    [Fact]
    public async Task Eval_ExampleWithBaseline_TwoReplicas_ScoresRight_JsonlAndStoreAgree_RerunServedFromCache()
    {
        var port = DockerEngine.FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var jsonl = Path.Combine(_work.FullName, "first.jsonl");
        var (exit, output, error) = await AfsAsync("eval", fixture.Arith, "--tasks", "1-24", "--replicas", "2", "--concurrency", "8",
            "--store", Store, "--out", jsonl, "--baseline-port", port);
        Assert.True(exit == 0, error);
        Assert.Contains("offline baseline", output);
        Assert.Contains("mean score", output);
        Assert.Contains("95% CI", output);
        Assert.Contains("afs eval: 24/24 done", error); // plain progress lines: stdout is not a terminal
        // By default the containers have no network: the baseline is reached through afs's LLM gateway, each task's calls counted and stored.
        Assert.Contains("network isolated; model calls through the LLM gateway to http://127.0.0.1:", error);
        Assert.Contains("LLM through the gateway (stored with the results): 24 requests from 24 tasks", output);

        var lines = JsonLines(jsonl);
        Assert.Equal(24, lines.Count);
        Assert.Equal(Enumerable.Range(1, 24), lines.Select(l => l.GetProperty("task_id").GetInt32()).Order());
        foreach (var line in lines)
        {
            // The score is right: the baseline's own answer to the prompt, compared with the expected answer.
            var result = line.GetProperty("result");
            Assert.Equal(BaselineModel.Name, result.GetProperty("model").GetString());
            var reply = BaselineModel.Answer(result.GetProperty("prompt").GetString()!);
            var answer = AnswerPattern().Matches(reply) is { Count: > 0 } m ? int.Parse(m[^1].Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : (int?)null;
            var expected = answer == result.GetProperty("expected").GetInt32() ? 1.0 : 0.0;
            Assert.Equal(expected, line.GetProperty("score").GetDouble());
        }

        var run = lines[0].GetProperty("run").GetString()!;
        var (showExit, showJson, showError) = await AfsAsync("show", run, "--store", Store, "--json");
        Assert.True(showExit == 0, showError);
        var shown = JsonDocument.Parse(showJson).RootElement;
        Assert.Equal("completed", shown.GetProperty("run").GetProperty("status").GetString());
        Assert.StartsWith("sha256:", shown.GetProperty("run").GetProperty("image_digest").GetString());
        var stored = shown.GetProperty("tasks").EnumerateArray().ToDictionary(t => t.GetProperty("task_id").GetInt32(), t => t.GetProperty("score").GetDouble());
        Assert.Equal(lines.ToDictionary(l => l.GetProperty("task_id").GetInt32(), l => l.GetProperty("score").GetDouble()), stored);
        Assert.Equal(lines.Average(l => l.GetProperty("score").GetDouble()), shown.GetProperty("summary").GetProperty("mean_score").GetDouble(), 9);

        // The same image, method and kwargs again: every task from the store, none called.
        var again = Path.Combine(_work.FullName, "again.jsonl");
        var (exit2, output2, error2) = await AfsAsync("eval", fixture.Arith, "--tasks", "1-24", "--store", Store, "--out", again, "--baseline-port", port, "--json");
        Assert.True(exit2 == 0, error2);
        // Known to be all cached before anything starts (the method's descriptor was kept with the first run): no replica.
        Assert.Contains($"every task of {fixture.Arith} is in the cache; no replica is started", error2);
        Assert.Contains("24 from the cache, 0 to run, 20 at a time over 0 replicas", error2);
        var summary = JsonDocument.Parse(output2).RootElement.GetProperty("summary");
        Assert.Equal(24, summary.GetProperty("from_cache").GetInt32());
        Assert.All(JsonLines(again), l => Assert.True(l.GetProperty("from_cache").GetBoolean()));
        Assert.Equal(stored.Values.Average(), summary.GetProperty("mean_score").GetDouble(), 9);

        var (runsExit, runsOutput, _) = await AfsAsync("runs", "--store", Store);
        Assert.Equal(0, runsExit);
        Assert.Contains(run, runsOutput);
        Assert.Equal(2, runsOutput.Split('\n').Count(l => l.Contains("completed", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Eval_TransientFailureRetried_TaskPastDeadlineScoredAsSuch()
    {
        var jsonl = Path.Combine(_work.FullName, "retries.jsonl");
        var (exit, output, error) = await AfsAsync("eval", fixture.Good, "--tasks", "1-4", "--kw", "flaky=1", "--kw", "slow_task=3",
            "--timeout", "2", "--retries", "1", "--store", Store, "--out", jsonl);
        Assert.True(exit == 0, error);
        var byTask = JsonLines(jsonl).ToDictionary(l => l.GetProperty("task_id").GetInt32());
        foreach (var task in new[] { 1, 2, 4 })
        {
            Assert.Equal(JsonValueKind.Null, byTask[task].GetProperty("error_kind").ValueKind);
            Assert.Equal(2, byTask[task].GetProperty("attempts").GetInt32());
            Assert.Equal(task % 4 / 4.0, byTask[task].GetProperty("score").GetDouble());
        }
        Assert.Equal("deadline", byTask[3].GetProperty("error_kind").GetString());
        Assert.Equal(0, byTask[3].GetProperty("score").GetDouble());
        Assert.Matches(@"deadline: 1 \(e\.g\. task 3: ", output);
    }

    [Fact]
    public async Task Eval_ModelEndpointUnreachable_EachTaskScoresZero_AndTheSummarySaysWhy()
    {
        var port = DockerEngine.FreeLoopbackPort();
        var (exit, output, error) = await AfsAsync("eval", fixture.Arith, "--tasks", "1-3", "--store", Store,
            "--base-url", $"http://127.0.0.1:{port}/v1", "--model", "gone", "--env", "CHUTES_API_KEY=test-key", "--network", "open");
        Assert.True(exit == 0, error);
        Assert.DoesNotContain("is not set", error); // the key given with --env counts
        Assert.Contains($"model: gone at http://127.0.0.1:{port}/v1", output);
        Assert.Contains("success rate 0.0 %", output);
        Assert.Contains("results that report an error: 3 (e.g. task 1: cannot reach the LLM endpoint", output);
    }

    [Fact]
    public async Task Eval_KilledMidRun_ResumesOnlyWhatIsMissing_AndARunningRunCannotBeResumedTwice()
    {
        var jsonl = Path.Combine(_work.FullName, "killed.jsonl");
        var args = new[] { "eval", fixture.Good, "--tasks", "1-40", "--kw", "delay=0.25", "--concurrency", "2", "--store", Store, "--out", jsonl };
        using (var first = AfsEnvironmentFixture.StartAfsProcess(args))
        {
            // Drained as it comes, so that afs never blocks on a full pipe.
            var drained = Task.WhenAll(first.StandardOutput.ReadToEndAsync(), first.StandardError.ReadToEndAsync());
            try
            {
                await Bounded.Until(() => Task.FromResult(File.Exists(jsonl) && File.ReadAllLines(jsonl).Length >= 6), TimeSpan.FromMinutes(2), "six results before the kill");
            }
            finally
            {
                first.Kill(entireProcessTree: true); // SIGKILL: no cleanup, no last write
                await first.WaitForExitAsync().Within(what: "the killed afs to exit");
                await drained.Within(what: "the killed afs's output to end");
            }
        }
        var beforeLines = JsonLines(jsonl);
        Assert.InRange(beforeLines.Count, 6, 39);
        var run = beforeLines[0].GetProperty("run").GetString()!;
        var (_, runsJson, _) = await AfsAsync("runs", "--store", Store, "--json");
        Assert.Equal("running", JsonDocument.Parse(runsJson).RootElement[0].GetProperty("status").GetString());

        using var resume = AfsEnvironmentFixture.StartAfsProcess("eval", "--resume", run, "--store", Store, "--out", jsonl, "--json");
        var resumeOutput = resume.StandardOutput.ReadToEndAsync();
        var resumeError = resume.StandardError.ReadToEndAsync();
        try
        {
            // While it runs, the run is in use: a second resume is refused, saying why.
            await Bounded.Until(() => Task.FromResult(File.ReadAllLines(jsonl).Length > beforeLines.Count), TimeSpan.FromMinutes(2), "the resume's first result");
            var (busyExit, _, busyError) = await AfsAsync("eval", "--resume", run, "--store", Store);
            Assert.Equal(1, busyExit);
            Assert.Contains($"run {run} is being run by another afs right now", busyError);
            await resume.WaitForExitAsync().Within(TimeSpan.FromMinutes(2), "the resume to finish");
        }
        finally
        {
            if (!resume.HasExited)
            {
                resume.Kill(entireProcessTree: true);
            }
        }
        Assert.True(resume.ExitCode == 0, await resumeError);
        var summary = JsonDocument.Parse(await resumeOutput).RootElement;
        Assert.Equal("completed", summary.GetProperty("run").GetProperty("status").GetString());

        // None run twice: no task has a line from both processes (a result is written out only once stored, so what
        // the killed process wrote is never run again). No task lost: every task has its one row in the store.
        var all = JsonLines(jsonl);
        var ids = all.Select(l => l.GetProperty("task_id").GetInt32()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.InRange(ids.Count, 39, 40); // the kill may land between a result's commit and its line
        await using var connection = new SqliteConnection($"Data Source={Store};Mode=ReadOnly");
        await connection.OpenAsync();
        await using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA integrity_check";
        Assert.Equal("ok", (string?)await check.ExecuteScalarAsync());
        check.CommandText = "SELECT COUNT(*), COUNT(DISTINCT task_id) FROM results WHERE run_id = $run";
        check.Parameters.AddWithValue("$run", run);
        await using var reader = await check.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(40, reader.GetInt32(0));
        Assert.Equal(40, reader.GetInt32(1));
    }

    /// <summary>
    /// Each result's token usage is written in the same transaction as the result: after a SIGKILL every stored
    /// result of the run has its usage row (it had none before: usage was written at the end of the run).
    /// </summary>
    [Fact]
    public async Task Eval_KilledMidRun_EveryStoredResultHasItsTokenUsage()
    {
        await using var upstream = await LocalLlmServer.StartAsync(_ => LlmReply.Text("Answer: 0") with { Usage = (31, 7), Delay = TimeSpan.FromMilliseconds(150) });
        var jsonl = Path.Combine(_work.FullName, "usage.jsonl");
        using (var afs = AfsEnvironmentFixture.StartAfsProcess("eval", fixture.Arith, "--tasks", "1-200", "--concurrency", "2", "--store", Store, "--out", jsonl,
            "--llm-upstream", upstream.BaseUrl.ToString(), "--model", "usage-model", "--no-cache"))
        {
            var drained = Task.WhenAll(afs.StandardOutput.ReadToEndAsync(), afs.StandardError.ReadToEndAsync());
            try
            {
                await Bounded.Until(() => Task.FromResult(File.Exists(jsonl) && File.ReadAllLines(jsonl).Length >= 8), TimeSpan.FromMinutes(2), "eight results before the kill");
            }
            finally
            {
                afs.Kill(entireProcessTree: true); // SIGKILL: nothing runs after this
                await afs.WaitForExitAsync().Within(what: "the killed afs to exit");
                await drained.Within(what: "the killed afs's output to end");
            }
        }
        var run = JsonLines(jsonl)[0].GetProperty("run").GetString()!;
        await using var connection = new SqliteConnection($"Data Source={Store};Mode=ReadOnly");
        await connection.OpenAsync();
        await using var check = connection.CreateCommand();
        check.CommandText = """
            SELECT COUNT(*), COUNT(u.task_id), COALESCE(SUM(u.total_tokens), 0), COALESCE(MIN(u.requests), 0)
            FROM results r LEFT JOIN llm_usage u ON u.run_id = r.run_id AND u.task_id = r.task_id WHERE r.run_id = $run
            """;
        check.Parameters.AddWithValue("$run", run);
        await using var reader = await check.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var (results, withUsage, tokens, fewestRequests) = (reader.GetInt32(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetInt64(3));
        Assert.InRange(results, 8, 199);
        Assert.Equal(results, withUsage);
        Assert.Equal(38L * results, tokens);
        Assert.Equal(1, fewestRequests);
    }

    [Fact]
    public async Task Score_GoodMissingAndRaisingMiners_ScoresWeightsAndReasons()
    {
        var miners = Path.Combine(_work.FullName, "miners.json");
        await File.WriteAllTextAsync(miners, JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["7"] = fixture.Good,
            ["8"] = "127.0.0.1:5000/affinetes-test/no-such-miner:" + Guid.NewGuid().ToString("N")[..8],
            ["9"] = fixture.Raising,
        }));
        var scores = Path.Combine(_work.FullName, "scores.json");
        var (exit, output, error) = await AfsAsync("score", miners, "--tasks", "1-8", "--store", Store, "--out", scores, "--ready-timeout", "60");
        Assert.True(exit == 0, error);
        Assert.Contains("weights: weight = score / sum", output);
        var byUid = JsonDocument.Parse(await File.ReadAllTextAsync(scores)).RootElement.GetProperty("miners").EnumerateArray()
            .ToDictionary(m => m.GetProperty("uid").GetString()!);
        Assert.Equal(0.375, byUid["7"].GetProperty("score").GetDouble(), 9); // (1+2+3+0)*2/4/8
        Assert.Equal(1.0, byUid["7"].GetProperty("weight").GetDouble(), 9);
        Assert.Equal(0, byUid["8"].GetProperty("score").GetDouble());
        Assert.StartsWith("not started:", byUid["8"].GetProperty("error").GetString());
        Assert.Equal(0, byUid["9"].GetProperty("score").GetDouble());
        Assert.Contains("every task failed: actor_error", byUid["9"].GetProperty("error").GetString());
        Assert.Equal(0, byUid["9"].GetProperty("weight").GetDouble());

        // The next cycle: unchanged images are served from the store.
        var (exit2, output2, error2) = await AfsAsync("score", miners, "--tasks", "1-8", "--store", Store, "--json", "--ready-timeout", "60");
        Assert.True(exit2 == 0, error2);
        var good = JsonDocument.Parse(output2).RootElement.GetProperty("miners").EnumerateArray().Single(m => m.GetProperty("uid").GetString() == "7");
        Assert.Equal(8, good.GetProperty("cache_hits").GetInt32());
        Assert.Equal(0.375, good.GetProperty("score").GetDouble(), 9);
    }

    [Fact]
    public async Task Validate_DeterministicExamplePasses_NonDeterministicFailsSayingWhatDiffered()
    {
        var (exit, output, error) = await AfsAsync("validate", Path.Combine(RepositoryRoot.Path, "environments", "python-arith"), "--tasks", "3");
        Assert.True(exit == 0, output + error);
        Assert.Contains("valid: 3 tasks deterministic, distinct challenges", output);

        var (badExit, badOutput, badError) = await AfsAsync("validate", fixture.Random, "--tasks", "2");
        Assert.Equal(1, badExit);
        Assert.Contains("generate gave two different challenges for the same task", badOutput);
        Assert.Contains("the same call scored differently", badOutput);
        Assert.Contains("NOT valid", badOutput);
        Assert.DoesNotContain("Exception", badError);
    }

    [GeneratedRegex(@"Answer: (-?\d+)")]
    private static partial Regex AnswerPattern();
}
