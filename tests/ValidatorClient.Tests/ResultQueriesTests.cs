using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>The reads behind afs view: runs filtered with their figures, a run's table a page at a time, two runs task by task.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ResultQueriesTests
{
    private static TaskResult Result(long taskId, double score, bool failed = false) => new()
    {
        TaskId = taskId,
        Score = failed ? 0 : score,
        Success = !failed && score >= 0.5,
        ErrorKind = failed ? TaskErrorKind.ActorError : TaskErrorKind.None,
        Error = failed ? $"task {taskId} raised" : null,
        Value = failed ? null : JsonSerializer.SerializeToElement(new { score }),
        Attempts = 1,
        StartedAt = DateTimeOffset.UtcNow,
        Duration = TimeSpan.FromMilliseconds(10 * taskId),
    };

    private static void Add(ResultStore store, string id, string model, string label, params TaskResult[] results)
    {
        store.CreateRun(new NewRun(id, new EvaluationRequest { TaskIds = [], Environment = "arith:" + model, ImageDigest = "sha256:" + id, Label = label },
            JsonSerializer.Serialize(new { model })), [.. results.Select(r => r.TaskId)]);
        using (var writer = store.OpenWriter(id))
        {
            writer.Write(results);
        }
        store.FinishRun(id);
    }

    [Fact]
    public async Task Runs_FilteredAndSearched_EachWithTheFiguresAndIntervalTheSummaryGives()
    {
        await using var temp = new TempStore();
        await using var opened = await temp.OpenAsync();
        var store = opened;
        TaskResult[] weak = [Result(1, 0.25), Result(2, 0.5), Result(3, 0, failed: true), Result(4, 1)];
        Add(store, "r-weak", "weak", "miner 1", weak);
        Add(store, "r-strong", "strong", "miner_2", Result(1, 1), Result(2, 1));
        store.CreateRun(new NewRun("r-new", new EvaluationRequest { TaskIds = [] }, "{}"), [1]);
        var queries = ResultQueries.Of(opened);

        var all = await queries.ListRunsAsync(new RunFilter(), default);
        Assert.Equal(["r-new", "r-strong", "r-weak"], all.Select(r => r.Id));
        var summary = EvaluationSummary.Of(weak);
        var listed = all.Single(r => r.Id == "r-weak");
        Assert.Equal((4, 1, 0), (listed.ResultCount, listed.FailedCount, listed.CacheHits));
        Assert.Equal(summary.MeanScore, listed.MeanScore!.Value, 12);
        Assert.Equal(summary.MeanScoreLow, listed.MeanScoreLow!.Value, 12);
        Assert.Equal(summary.MeanScoreHigh, listed.MeanScoreHigh!.Value, 12);
        Assert.Equal((0, null), (all[0].ResultCount, all[0].MeanScore));

        Assert.Equal(["r-strong"], (await queries.ListRunsAsync(new RunFilter { Model = "strong" }, default)).Select(r => r.Id));
        Assert.Equal(["r-weak"], (await queries.ListRunsAsync(new RunFilter { Search = "miner 1" }, default)).Select(r => r.Id)); // every word must match
        Assert.Equal(["r-strong"], (await queries.ListRunsAsync(new RunFilter { Search = "miner_" }, default)).Select(r => r.Id)); // '_' is a letter, not a wildcard
        Assert.Equal(["r-new"], (await queries.ListRunsAsync(new RunFilter { Status = RunStatus.Running }, default)).Select(r => r.Id));
        Assert.Empty(await queries.ListRunsAsync(new RunFilter { Before = DateTimeOffset.UtcNow.AddDays(-1) }, default));
        Assert.Equal(["r-strong", "r-weak"], (await queries.ListRunsAsync(new RunFilter { Ids = ["r-weak", "r-strong"] }, default)).Select(r => r.Id));
        Assert.Equal(["r-strong"], (await queries.ListRunsAsync(new RunFilter { Limit = 1, Offset = 1 }, default)).Select(r => r.Id));
        var (environments, models) = await queries.ChoicesAsync(default);
        Assert.Equal(["arith:strong", "arith:weak"], environments);
        Assert.Equal(["strong", "weak"], models);
    }

    [Fact]
    public async Task TaskTable_APageInSqlOrder_FailedOnly_AndNeighbours()
    {
        await using var temp = new TempStore();
        await using var opened = await temp.OpenAsync();
        var store = opened;
        Add(store, "r", "m", "l", [.. Enumerable.Range(1, 30).Select(i => Result(i, i % 4 / 4.0, failed: i % 10 == 0))]);
        var queries = ResultQueries.Of(opened);

        var (rows, count) = await queries.TasksAsync("r", new TaskOrder("score", true, false, 5, 5), default);
        Assert.Equal(30, count);
        Assert.Equal([23, 27, 2, 6, 14], rows.Select(r => r.Figures.TaskId)); // the last two of the seven 0.75s, then the 0.5s (10 failed), by task
        var (failed, failedCount) = await queries.TasksAsync("r", new TaskOrder("task", false, true, 0, 10), default);
        Assert.Equal(3, failedCount);
        Assert.Equal(["task 10 raised", "task 20 raised", "task 30 raised"], failed.Select(r => r.Error));
        Assert.Equal((29L, (long?)null), await queries.NeighboursAsync("r", 30, default));
        Assert.Equal(30, (await queries.FiguresAsync("r", default)).Count);
    }

    [Fact]
    public async Task TwoRuns_TaskByTask_TheDisagreementsFirst_TasksOfOneRunOnlyCounted()
    {
        await using var temp = new TempStore();
        await using var opened = await temp.OpenAsync();
        var store = opened;
        Add(store, "a", "m", "l", Result(1, 1), Result(2, 0.25), Result(3, 0.5), Result(4, 0.75), Result(5, 0.5));
        Add(store, "b", "m", "l", Result(1, 1), Result(2, 0.5), Result(3, 0.75), Result(4, 0.25), Result(6, 1));
        var queries = ResultQueries.Of(opened);

        var page = await queries.CompareAsync("a", "b", "disagreement", false, 0, 10, default);

        Assert.Equal((6, 4, 2, 3, 1, 1), (page.Tasks, page.Both, page.SuccessDiffers, page.ScoreDiffers, page.OnlyA, page.OnlyB));
        Assert.Equal(0.0, page.MeanDifference!.Value, 12); // (0 + 0.25 + 0.25 - 0.5) / 4
        Assert.Equal([4, 2, 3, 1, 5, 6], page.Rows.Select(r => r.TaskId)); // success differs (4: -0.5, 2: +0.25), then by the size of the difference
        Assert.Null(page.Rows[^1].A);
        var byDifference = await queries.CompareAsync("a", "b", "difference", true, 0, 10, default);
        Assert.Equal([2, 3, 1, 4, 5, 6], byDifference.Rows.Select(r => r.TaskId));
    }
}

/// <summary>A running run's progress row: written while it runs (tasks in flight), and last when it ends.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class RunProgressTests(EvalHostFixture fixture) : IClassFixture<EvalHostFixture>
{
    [Fact]
    public async Task Run_WritesItsProgressWhileItRuns_InFlightAndCounts_AndTheLastFiguresWhenItEnds()
    {
        await using var env = await fixture.LoadAsync();
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        var queries = ResultQueries.Of(store);
        var run = await EvaluationRunner.Create(env, store).StartAsync(new EvaluationRequest
        {
            TaskIds = EvalHostFixture.Tasks(1, 12),
            Kwargs = new Dictionary<string, object?> { ["ms"] = 400 },
            Concurrency = 3,
            UseCache = false,
        }).Within();
        Assert.Null(await queries.ProgressAsync(run.Id, default)); // nothing runs until the results are read

        var reading = EvalHostFixture.ReadAllAsync(run);
        RunProgress? during = null;
        await Bounded.Until(async () => (during = await queries.ProgressAsync(run.Id, default)) is { InFlight: > 0 }, TimeSpan.FromSeconds(20), "a progress row with tasks in flight");
        Assert.InRange(during!.InFlight, 1, 3);
        await reading;

        var last = (await queries.ProgressAsync(run.Id, default))!;
        Assert.Equal((0, 12, 0), (last.InFlight, last.Completed, last.Failed));
        Assert.True(last.UpdatedAt >= during.UpdatedAt);
        Assert.True(last.Rate > 0);
    }
}
