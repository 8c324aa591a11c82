using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>A real host process serving <c>eval_env.py</c>, and the helpers the evaluation tests share.</summary>
public sealed class EvalHostFixture : IAsyncLifetime
{
    public HostProcess Host { get; private set; } = null!;

    public static Dictionary<string, string> Env() =>
        new() { ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", "eval_env.py") };

    public async Task InitializeAsync()
    {
        Host = HostProcess.Start(Env());
        await Host.WaitReadyAsync();
    }

    public Task DisposeAsync() => Host.DisposeAsync().AsTask();

    /// <param name="readyTimeout">How long a call waits for a replica that went away to come back before it fails
    /// (the pool's own wait); short, the outage reaches the runner, which retries the task.</param>
    public static Task<IEnvironment> LoadAsync(int port, TimeSpan? readyTimeout = null) => AffinetesClient.LoadEnvAsync(new EnvironmentOptions
    {
        Mode = EnvironmentMode.Url,
        BaseUrls = [$"http://127.0.0.1:{port}"],
        ReadyTimeout = readyTimeout ?? TimeSpan.FromMinutes(3),
    }).Within(what: "loading the environment");

    public Task<IEnvironment> LoadAsync() => LoadAsync(Host.Port);

    /// <summary>Forgets the task ids the actor was called with.</summary>
    public static Task ResetAsync(IEnvironment env) => env.CallAsync("reset").Within(what: "resetting the actor");

    /// <summary>The task ids the actor was called with since the last reset, in call order.</summary>
    public static async Task<List<long>> CallsAsync(IEnvironment env) =>
        [.. (await env.CallAsync("calls_so_far").Within(what: "reading the actor's calls")).EnumerateArray().Select(e => e.GetInt64())];

    public static long[] Tasks(int from, int to) => [.. Enumerable.Range(from, to - from + 1).Select(i => (long)i)];

    /// <summary>Reads every result of <paramref name="run"/>, bounded.</summary>
    public static async Task<List<TaskResult>> ReadAllAsync(IEvaluationRun run, TimeSpan? limit = null)
    {
        var results = new List<TaskResult>();
        await Task.Run(async () =>
        {
            await foreach (var result in run.ResultsAsync())
            {
                results.Add(result);
            }
        }).Within(limit ?? TimeSpan.FromSeconds(60), $"run {run.Id}");
        return results;
    }
}

/// <summary>A results store in a temporary directory, deleted with the test.</summary>
public sealed class TempStore : IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("affinetes-store-").FullName;

    public string Path => System.IO.Path.Combine(_directory, "results.db");

    public Task<ResultStore> OpenAsync() => ResultStore.OpenAsync(Path).Within(what: "opening the store");

    public ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}

[Trait(Tiers.Name, Tiers.Host)]
public sealed class EvaluationRunnerTests(EvalHostFixture fixture) : IClassFixture<EvalHostFixture>
{
    private static readonly Dictionary<string, object?> Fast = new() { ["ms"] = 0 };

    [Fact]
    public async Task ARunWithoutTaskTimeout_GetsAFiniteOne_StoredWithIt_NoneOnlyWhenAskedFor()
    {
        await using var env = await fixture.LoadAsync();
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        var runner = EvaluationRunner.Create(env, store);
        var byDefault = await runner.StartAsync(new EvaluationRequest { TaskIds = [1], Kwargs = Fast });
        var fromKwargs = await runner.StartAsync(new EvaluationRequest { TaskIds = [1], Kwargs = new Dictionary<string, object?> { ["ms"] = 0, ["timeout"] = 5 } });
        var none = await runner.StartAsync(new EvaluationRequest { TaskIds = [1], Kwargs = Fast, TaskTimeout = Timeout.InfiniteTimeSpan });
        Assert.Equal(CallDeadlines.EvaluationDefault, byDefault.Request.TaskTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), fromKwargs.Request.TaskTimeout);
        Assert.Equal(Timeout.InfiniteTimeSpan, none.Request.TaskTimeout);
        Assert.Equal(CallDeadlines.EvaluationDefault, (await store.GetRunAsync(byDefault.Id))!.TaskTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), (await store.GetRunAsync(fromKwargs.Id))!.TaskTimeout);
        Assert.Equal(Timeout.InfiniteTimeSpan, (await store.GetRunAsync(none.Id))!.TaskTimeout);
        Assert.Single(await EvalHostFixture.ReadAllAsync(none)); // no deadline still runs
    }

    [Fact]
    public async Task Run_YieldsEveryTaskOnce_WithScoreAndSuccessReadFromTheResult()
    {
        await using var env = await fixture.LoadAsync();
        await EvalHostFixture.ResetAsync(env);
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest { TaskIds = EvalHostFixture.Tasks(1, 40), Concurrency = 8 });
        var results = await EvalHostFixture.ReadAllAsync(run);

        Assert.Equal(EvalHostFixture.Tasks(1, 40), results.Select(r => r.TaskId).Order());
        Assert.All(results, r =>
        {
            Assert.True(r.Completed);
            Assert.Equal((r.TaskId % 4) / 4.0, r.Score);
            Assert.Equal(r.TaskId % 5 != 0, r.Success);
            Assert.Equal(r.TaskId, r.Value!.Value.GetProperty("task_id").GetInt64());
            Assert.Equal(1, r.Attempts);
            Assert.False(r.FromCache);
        });
        Assert.Equal(EvalHostFixture.Tasks(1, 40), (await EvalHostFixture.CallsAsync(env)).Order());
        var progress = run.Progress;
        Assert.Equal((40, 40, 0, 0), (progress.Done, progress.Completed, progress.Failed, progress.InFlight));
    }

    [Fact]
    public async Task Concurrency_BoundsTheTasksInFlight()
    {
        await using var env = await fixture.LoadAsync();
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest
        {
            TaskIds = EvalHostFixture.Tasks(1, 12),
            Kwargs = new Dictionary<string, object?> { ["ms"] = 150 },
            Concurrency = 3,
        });
        var inFlight = new List<int>();
        await foreach (var _ in run.ResultsAsync().WithCancellation(default))
        {
            inFlight.Add(run.Progress.InFlight);
        }
        Assert.Equal(12, inFlight.Count);
        Assert.All(inFlight, n => Assert.InRange(n, 0, 3));
    }

    [Fact]
    public async Task ActorError_IsAResultOfItsKind_AndIsNeverRetried()
    {
        await using var env = await fixture.LoadAsync();
        await EvalHostFixture.ResetAsync(env);
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest
        {
            Method = "raises",
            TaskIds = EvalHostFixture.Tasks(1, 10),
            Retries = 3,
            RetryDelay = TimeSpan.FromMilliseconds(10),
        });
        var results = await EvalHostFixture.ReadAllAsync(run);

        Assert.Equal(10, results.Count);
        foreach (var even in results.Where(r => r.TaskId % 2 == 0))
        {
            Assert.Equal(TaskErrorKind.ActorError, even.ErrorKind);
            Assert.Contains($"task {even.TaskId} is even", even.Error);
            Assert.Equal((0.0, false, 1), (even.Score, even.Success, even.Attempts));
            Assert.Equal(TaskErrorKind.ActorError, Assert.Single(even.AttemptErrors).Kind);
        }
        Assert.All(results.Where(r => r.TaskId % 2 == 1), r => Assert.Equal((true, 1.0, true), (r.Completed, r.Score, r.Success)));
        Assert.Equal(EvalHostFixture.Tasks(1, 10), (await EvalHostFixture.CallsAsync(env)).Order()); // each called once
        Assert.Equal((5, 5, 0), (run.Progress.Completed, run.Progress.Failed, run.Progress.Retries));
    }

    [Fact]
    public async Task TaskPastItsDeadline_IsADeadlineResult_AndTheRunGoesOn()
    {
        await using var env = await fixture.LoadAsync();
        await EvalHostFixture.ResetAsync(env);
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest
        {
            Method = "slow_first",
            TaskIds = EvalHostFixture.Tasks(1, 4),
            Kwargs = new Dictionary<string, object?> { ["ms"] = 20_000 },
            TaskTimeout = TimeSpan.FromMilliseconds(300),
        });
        var results = await EvalHostFixture.ReadAllAsync(run);

        Assert.Equal(4, results.Count);
        Assert.All(results, r =>
        {
            Assert.Equal(TaskErrorKind.Deadline, r.ErrorKind);
            Assert.Contains("did not answer within 0.3 s", r.Error);
            Assert.Equal((0.0, false, 1), (r.Score, r.Success, r.Attempts));
        });
    }

    [Fact]
    public async Task TransientFailure_IsRetried_AndTheRetrySucceeds()
    {
        await using var env = await fixture.LoadAsync();
        await EvalHostFixture.ResetAsync(env);
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest
        {
            Method = "slow_first",
            TaskIds = EvalHostFixture.Tasks(1, 6),
            Kwargs = new Dictionary<string, object?> { ["ms"] = 20_000 },
            // Long enough for the second, quick attempt to answer on a busy machine.
            TaskTimeout = TimeSpan.FromSeconds(3),
            Retries = 2,
            RetryDelay = TimeSpan.FromMilliseconds(20),
        });
        var results = await EvalHostFixture.ReadAllAsync(run);

        Assert.All(results, r =>
        {
            Assert.Equal((true, 1.0, 2), (r.Completed, r.Score, r.Attempts));
            var first = Assert.Single(r.AttemptErrors);
            Assert.Equal((1, TaskErrorKind.Deadline), (first.Attempt, first.Kind));
        });
        var calls = await EvalHostFixture.CallsAsync(env);
        Assert.All(EvalHostFixture.Tasks(1, 6), t => Assert.Equal(2, calls.Count(c => c == t)));
        Assert.Equal(6, run.Progress.Retries);
    }

    [Fact]
    public async Task EnvironmentDown_IsRetried_UntilItAnswersAgain()
    {
        var first = HostProcess.Start(EvalHostFixture.Env());
        await first.WaitReadyAsync();
        var port = first.Port;
        // The pool would wait minutes for the address to answer again and hide the outage; here it gives up at once.
        await using var env = await EvalHostFixture.LoadAsync(port, readyTimeout: TimeSpan.FromMilliseconds(250));
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest
        {
            TaskIds = EvalHostFixture.Tasks(1, 30),
            Kwargs = new Dictionary<string, object?> { ["ms"] = 30 },
            Concurrency = 2,
            Retries = 30,
            RetryDelay = TimeSpan.FromMilliseconds(200),
        });
        var results = new List<TaskResult>();
        HostProcess? second = null;
        try
        {
            await Task.Run(async () =>
            {
                await foreach (var result in run.ResultsAsync())
                {
                    results.Add(result);
                    if (results.Count == 5)
                    {
                        first.SendSigkill();
                        await first.WaitForExitAsync(TimeSpan.FromSeconds(10));
                        // The same address comes back after a while, as a restarted server would: longer than the pool
                        // waits for a replica to answer again (250 ms), or a quick host's restart hides the outage from
                        // the runner and nothing is retried.
                        await Task.Delay(TimeSpan.FromSeconds(1));
                        second = HostProcess.Start(new Dictionary<string, string>(EvalHostFixture.Env())
                        {
                            ["AFFINETES_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        });
                    }
                }
            }).Within(TimeSpan.FromSeconds(90), "the run across the restart");
        }
        finally
        {
            await first.DisposeAsync();
            if (second is not null)
            {
                await second.DisposeAsync();
            }
        }

        Assert.Equal(EvalHostFixture.Tasks(1, 30), results.Select(r => r.TaskId).Order());
        Assert.All(results, r => Assert.True(r.Completed, $"task {r.TaskId}: {r.ErrorKind} {r.Error}"));
        var retried = results.Where(r => r.Attempts > 1).ToList();
        Assert.NotEmpty(retried);
        Assert.All(retried, r => Assert.All(r.AttemptErrors, e => Assert.Equal(TaskErrorKind.Unavailable, e.Kind)));
    }

    [Fact]
    public async Task UnknownMethod_FailsEveryTaskWithItsKind_WithoutStoppingTheRun()
    {
        await using var env = await fixture.LoadAsync();
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest { Method = "nope", TaskIds = EvalHostFixture.Tasks(1, 5), Retries = 2 });
        var results = await EvalHostFixture.ReadAllAsync(run);
        Assert.Equal(5, results.Count);
        Assert.All(results, r => Assert.Equal((TaskErrorKind.MethodNotFound, 1), (r.ErrorKind, r.Attempts)));
    }

    [Fact]
    public async Task Cancelling_KeepsFinishedResults_StoresThem_AndLeavesTheRestMissing()
    {
        await using var store = new TempStore();
        await using var results = await store.OpenAsync();
        await using var env = await fixture.LoadAsync();
        var run = await EvaluationRunner.Create(env, results).StartAsync(new EvaluationRequest
        {
            TaskIds = EvalHostFixture.Tasks(1, 200),
            Kwargs = new Dictionary<string, object?> { ["ms"] = 50 },
            Concurrency = 2,
        });
        using var cancel = new CancellationTokenSource();
        var seen = new List<TaskResult>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Run(async () =>
        {
            await foreach (var result in run.ResultsAsync(cancel.Token))
            {
                seen.Add(result);
                if (seen.Count == 6)
                {
                    await cancel.CancelAsync();
                }
            }
        }).Within());

        Assert.InRange(seen.Count, 6, 199);
        Assert.Equal(0, run.Progress.InFlight);
        var stored = await results.GetResultsAsync(run.Id);
        Assert.Equal(seen.Select(r => r.TaskId).Order(), stored.Select(r => r.TaskId));
        var info = await results.GetRunAsync(run.Id);
        Assert.Equal((RunStatus.Interrupted, 200, seen.Count), (info!.Status, info.TaskCount, info.ResultCount));
    }

    [Fact]
    public async Task Cache_ServesSuccessfulResults_ForTheSameDigestMethodKwargsAndTask_UnlessToldNot()
    {
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        await using var env = await fixture.LoadAsync();
        var runner = EvaluationRunner.Create(env, store);
        var request = new EvaluationRequest { TaskIds = EvalHostFixture.Tasks(1, 20), Kwargs = Fast, ImageDigest = "sha256:aaa" };

        async Task<(List<TaskResult> Results, List<long> Calls)> RunAsync(EvaluationRequest r)
        {
            await EvalHostFixture.ResetAsync(env);
            var results = await EvalHostFixture.ReadAllAsync(await runner.StartAsync(r));
            return (results, await EvalHostFixture.CallsAsync(env));
        }

        var (first, firstCalls) = await RunAsync(request);
        Assert.Equal(20, firstCalls.Count);
        Assert.DoesNotContain(first, r => r.FromCache);

        // Again: the 16 successful results come from the store; the 4 unsuccessful ones (multiples of 5) run again.
        var (second, secondCalls) = await RunAsync(request);
        Assert.Equal([5, 10, 15, 20], secondCalls.Order());
        Assert.Equal(16, second.Count(r => r.FromCache));
        Assert.All(second.Where(r => r.FromCache), r =>
        {
            var original = first.Single(f => f.TaskId == r.TaskId);
            Assert.Equal((original.Score, original.Success, 0), (r.Score, r.Success, r.Attempts));
            Assert.Equal(original.Value!.Value.GetRawText(), r.Value!.Value.GetRawText());
        });

        // Not the same evaluation: another digest, other kwargs (in any key order the same), another method.
        Assert.Equal(20, (await RunAsync(request with { UseCache = false })).Calls.Count);
        Assert.Equal(20, (await RunAsync(request with { ImageDigest = "sha256:bbb" })).Calls.Count);
        Assert.Equal(20, (await RunAsync(request with { ImageDigest = null })).Calls.Count);
        Assert.Equal(20, (await RunAsync(request with { Kwargs = new Dictionary<string, object?> { ["ms"] = 0, ["model"] = "other" } })).Calls.Count);
        Assert.Equal(4, (await RunAsync(request with { Kwargs = new Dictionary<string, object?> { ["model"] = "other", ["ms"] = 0 } })).Calls.Count);

        var runs = await store.ListRunsAsync();
        Assert.Equal(7, runs.Count);
        Assert.Equal(16, runs.Single(r => r.Id == runs[^2].Id).CacheHits);
    }

    [Fact]
    public async Task Resume_RunsOnlyTheTasksWithoutAResult()
    {
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        await using var env = await fixture.LoadAsync();
        var runner = EvaluationRunner.Create(env, store);
        var run = await runner.StartAsync(new EvaluationRequest
        {
            TaskIds = EvalHostFixture.Tasks(1, 40),
            Kwargs = new Dictionary<string, object?> { ["ms"] = 30 },
            Concurrency = 3,
            Label = "resume test",
        });
        var before = new List<TaskResult>();
        await foreach (var result in run.ResultsAsync())
        {
            before.Add(result);
            if (before.Count == 10)
            {
                break; // stopping early: in-flight tasks are abandoned
            }
        }
        var interrupted = await store.GetRunAsync(run.Id);
        Assert.Equal(RunStatus.Interrupted, interrupted!.Status);
        var storedBefore = (await store.GetResultsAsync(run.Id)).Select(r => r.TaskId).ToHashSet();
        // What the caller saw is stored; results of the batch being written when it stopped reading are stored too.
        Assert.Subset(storedBefore, before.Select(r => r.TaskId).ToHashSet());

        await EvalHostFixture.ResetAsync(env);
        var resumed = await runner.ResumeAsync(run.Id);
        Assert.Equal((40, storedBefore.Count, 40 - storedBefore.Count), (resumed.TaskCount, resumed.AlreadyDone, resumed.ToRun));
        Assert.Equal(("evaluate", 3, "resume test"), (resumed.Request.Method, resumed.Request.Concurrency, resumed.Request.Label));
        var after = await EvalHostFixture.ReadAllAsync(resumed);

        var calls = await EvalHostFixture.CallsAsync(env);
        Assert.Empty(calls.Intersect(storedBefore));
        Assert.Equal(calls.Order(), after.Select(r => r.TaskId).Order());
        var all = await store.GetResultsAsync(run.Id);
        Assert.Equal(EvalHostFixture.Tasks(1, 40), all.Select(r => r.TaskId));
        Assert.All(all, r => Assert.Equal(r.TaskId, r.Value!.Value.GetProperty("task_id").GetInt64()));
        var info = await store.GetRunAsync(run.Id);
        Assert.Equal((RunStatus.Completed, 40, 40), (info!.Status, info.TaskCount, info.ResultCount));
        Assert.Equal(40, resumed.Progress.Done);
    }

    [Fact]
    public async Task Resume_WithoutSuchARun_SaysWhereToLook()
    {
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        await using var env = await fixture.LoadAsync();
        var e = await Assert.ThrowsAsync<ResultStoreException>(() => EvaluationRunner.Create(env, store).ResumeAsync("20990101-000000-beef"));
        Assert.Contains("has no run '20990101-000000-beef'", e.Message);
        Assert.Contains("afs runs", e.Message);
    }

    [Fact]
    public async Task StoredResults_AreWhatWasYielded()
    {
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        await using var env = await fixture.LoadAsync();
        var run = await EvaluationRunner.Create(env, store).StartAsync(new EvaluationRequest
        {
            Method = "raises",
            TaskIds = [3, 1, 2, 2, 4],
            Retries = 1,
            Environment = "eval-env",
        });
        Assert.Equal(4, run.TaskCount); // the repeated id runs once
        var yielded = await EvalHostFixture.ReadAllAsync(run);
        var stored = await store.GetResultsAsync(run.Id);
        Assert.Equal(yielded.OrderBy(r => r.TaskId).Select(Comparable), stored.Select(Comparable));
        var info = await store.GetRunAsync(run.Id);
        Assert.Equal(("raises", "eval-env", 2, 0.5), (info!.Method, info.Environment, info.FailedCount, info.MeanScore));
    }

    [Fact]
    public async Task StoreFailingMidRun_StopsTheRun_WithAStoreError()
    {
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        await using var env = await fixture.LoadAsync();
        var run = await EvaluationRunner.Create(env, store).StartAsync(new EvaluationRequest
        {
            TaskIds = EvalHostFixture.Tasks(1, 500),
            Kwargs = new Dictionary<string, object?> { ["ms"] = 20 },
            Concurrency = 4,
        });
        var seen = 0;
        var e = await Assert.ThrowsAsync<ResultStoreException>(() => Task.Run(async () =>
        {
            await foreach (var _ in run.ResultsAsync())
            {
                if (++seen == 3)
                {
                    // Another hand breaks the file under the writer.
                    StoreFile.Scalar(temp.Path, "DROP TABLE errors; DROP TABLE results");
                }
            }
        }).Within());
        Assert.Contains($"writing results of run {run.Id}", e.Message);
        Assert.Contains("the run stopped", e.Message);
        Assert.Equal(0, run.Progress.InFlight);
        Assert.True(run.Progress.Done < 500);
    }

    [Fact]
    public async Task Start_ValidatesBeforeAnythingIsRecordedOrCalled()
    {
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        await using var env = await fixture.LoadAsync();
        await EvalHostFixture.ResetAsync(env);
        var runner = EvaluationRunner.Create(env, store);
        await Assert.ThrowsAsync<EvaluationOptionsException>(() => runner.StartAsync(new EvaluationRequest { TaskIds = [1], Concurrency = -3 }));
        Assert.Empty(await store.ListRunsAsync());
        Assert.Empty(await EvalHostFixture.CallsAsync(env));
    }

    private static string Comparable(TaskResult r) =>
        $"{r.TaskId}|{r.Score}|{r.Success}|{r.ErrorKind}|{r.Error}|{r.Attempts}|{r.Value?.GetRawText()}|" +
        $"{string.Join(";", r.AttemptErrors)}|{r.StartedAt:yyyy-MM-ddTHH:mm:ss.fff}|{r.Duration.TotalMilliseconds:0.###}";
}

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class EvaluationRequestTests
{
    [Theory]
    [InlineData("", "the method to evaluate is empty")]
    [InlineData("evaluate", null)]
    public void Method_MustBeNamed(string method, string? message)
    {
        var request = new EvaluationRequest { Method = method, TaskIds = [1] };
        if (message is null)
        {
            request.Validate();
        }
        else
        {
            Assert.Contains(message, Assert.Throws<EvaluationOptionsException>(request.Validate).Message);
        }
    }

    [Fact]
    public void BadSettings_AreRejected_SayingHowToFix()
    {
        static string Problem(EvaluationRequest r) => Assert.Throws<EvaluationOptionsException>(r.Validate).Message;
        var ok = new EvaluationRequest { TaskIds = [1] };
        Assert.Contains("give task ids, e.g. 1-100,200", Problem(ok with { TaskIds = [] }));
        Assert.Contains("concurrency is 0; use 1 to 4096", Problem(ok with { Concurrency = 0 }));
        Assert.Contains("it must be positive", Problem(ok with { TaskTimeout = TimeSpan.Zero }));
        Assert.Contains("retries is -1; use 0 to 100", Problem(ok with { Retries = -1 }));
        Assert.Contains("kwargs contain 'task_id', which the runner sets", Problem(ok with { Kwargs = new Dictionary<string, object?> { ["task_id"] = 3 } }));
    }
}

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ScoreRuleTests
{
    [Theory]
    [InlineData("0.75", 0.75, true)]
    [InlineData("""{"score": 1.0, "success": true}""", 1.0, true)]
    [InlineData("""{"score": 0.0, "success": false}""", 0.0, false)]
    [InlineData("""{"score": 0.5}""", 0.5, true)]
    [InlineData("""{"success": true}""", 0.0, true)]
    [InlineData("""{"result": "x"}""", 0.0, false)]
    [InlineData("""{"score": "1.0", "success": "yes"}""", 0.0, false)]
    [InlineData("\"text\"", 0.0, false)]
    [InlineData("[1, 2]", 0.0, false)]
    [InlineData("true", 0.0, false)]
    [InlineData("null", 0.0, false)]
    public void Result_GivesScoreAndSuccess_ByTheDocumentedRule(string json, double score, bool success)
    {
        using var document = JsonDocument.Parse(json);
        Assert.Equal((score, success), ScoreRule.Read(document.RootElement));
    }

    [Fact]
    public void Kwargs_HaveOneCanonicalText_WhateverTheKeyOrder()
    {
        var a = CanonicalJson.Of(new Dictionary<string, object?> { ["b"] = new { z = 1, a = 2 }, ["a"] = "x" });
        var b = CanonicalJson.Of(new Dictionary<string, object?> { ["a"] = "x", ["b"] = new Dictionary<string, int> { ["a"] = 2, ["z"] = 1 } });
        Assert.Equal("""{"a":"x","b":{"a":2,"z":1}}""", a.Text);
        Assert.Equal(a.Text, b.Text);
        Assert.Equal(2, a.Values["b"].GetProperty("a").GetInt32());
    }
}

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class EvaluationSummaryTests
{
    private static TaskResult Ok(long id, double score, int ms, bool cached = false) =>
        new() { TaskId = id, Score = score, Success = true, Duration = TimeSpan.FromMilliseconds(ms), FromCache = cached, Attempts = cached ? 0 : 1 };

    private static TaskResult Failed(long id, TaskErrorKind kind, string error) =>
        new() { TaskId = id, ErrorKind = kind, Error = error, Duration = TimeSpan.FromMilliseconds(1000), Attempts = 1 };

    [Fact]
    public void Summary_CountsFailuresAsZero_GroupsThemByKind_AndGivesTheIntervalAndPercentiles()
    {
        TaskResult[] results =
        [
            Ok(1, 1, 100), Ok(2, 1, 200), Ok(3, 0, 300), Ok(4, 1, 400, cached: true),
            Failed(7, TaskErrorKind.Deadline, "evaluate did not answer within 5 s"),
            Failed(5, TaskErrorKind.Deadline, "evaluate did not answer within 5 s (the environment cancelled it)"),
            Failed(6, TaskErrorKind.ActorError, "evaluate raised ValueError: boom"),
        ];
        var summary = EvaluationSummary.Of(results);

        Assert.Equal((7, 4, 3, 1), (summary.Tasks, summary.Completed, summary.Failed, summary.FromCache));
        Assert.Equal(3.0 / 7, summary.MeanScore, 12);
        Assert.Equal(4.0 / 7, summary.SuccessRate, 12);
        // Mean 3/7; sample variance (3·(4/7)² + 4·(3/7)²)/6 = 2/7; t(0.975, 6) = 2.447.
        var half = 2.447 * Math.Sqrt(2.0 / 7 / 7);
        Assert.Equal(3.0 / 7 - half, summary.MeanScoreLow, 9);
        Assert.Equal(3.0 / 7 + half, summary.MeanScoreHigh, 9);
        // Durations of the six tasks run (not the cached one): 100, 200, 300, 1000, 1000, 1000.
        Assert.Equal(TimeSpan.FromMilliseconds(300), summary.P50Duration);
        Assert.Equal(TimeSpan.FromMilliseconds(1000), summary.P95Duration);
        Assert.Equal(
            [new FailureGroup(TaskErrorKind.Deadline, 2, 5, "evaluate did not answer within 5 s (the environment cancelled it)"),
             new FailureGroup(TaskErrorKind.ActorError, 1, 6, "evaluate raised ValueError: boom")],
            summary.Failures);
    }

    [Fact]
    public void Summary_OfOneOrNoTask_HasNoSpread()
    {
        var one = EvaluationSummary.Of([Ok(1, 0.5, 10)]);
        Assert.Equal((0.5, 0.5, 0.5), (one.MeanScore, one.MeanScoreLow, one.MeanScoreHigh));
        Assert.Equal(0, EvaluationSummary.Of([]).Tasks);
    }

    [Theory]
    [InlineData(1, 12.706)]
    [InlineData(30, 2.042)]
    [InlineData(40, 2.021)]
    [InlineData(60, 2.000)]
    [InlineData(120, 1.980)]
    [InlineData(100_000, 1.960)]
    public void StudentT_MatchesTheTables(int df, double t) => Assert.Equal(t, EvaluationSummary.StudentT975(df), 3);
}
