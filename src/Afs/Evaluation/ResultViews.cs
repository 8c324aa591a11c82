using System.Globalization;
using System.Text.Json;
using Affinetes.Afs.Cli;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.Evaluation;

/// <summary>
/// How runs, results and summaries look in afs's output: one JSON shape each (the JSON lines of <c>--out</c>,
/// <c>afs show --json</c>, <c>afs score</c>) and the lines people read. Everything here reads what the store and the
/// runner give; nothing is computed twice.
/// </summary>
internal static class ResultViews
{
    /// <summary>One task's result as a JSON line.</summary>
    public static object Json(string runId, TaskResult r) => new
    {
        run = runId,
        task_id = r.TaskId,
        score = r.Score,
        success = r.Success,
        error_kind = r.Completed ? null : TaskErrorKinds.Name(r.ErrorKind),
        error = r.Error,
        attempts = r.Attempts,
        duration_ms = Math.Round(r.Duration.TotalMilliseconds, 1),
        started_at = r.StartedAt,
        from_cache = r.FromCache,
        result = r.Value,
    };

    /// <summary>
    /// One episode's result as a JSON line: the task's figures with the episode's own (its id, reward, whether the
    /// environment said done, steps played, what stopped it) at the top, and the whole record under <c>result</c>.
    /// </summary>
    public static object EpisodeJson(string runId, TaskResult r)
    {
        string? Text(string name) => r.Value is { ValueKind: JsonValueKind.Object } v && v.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
        JsonElement? Field(string name) => r.Value is { ValueKind: JsonValueKind.Object } v && v.TryGetProperty(name, out var p) ? p : null;
        return new
        {
            run = runId,
            task_id = r.TaskId,
            episode_id = Text("episode_id"),
            reward = Field("reward"),
            done = Field("done"),
            steps = Field("steps"),
            stop_reason = Text("stop_reason"),
            score = r.Score,
            success = r.Success,
            error_kind = r.Completed ? null : TaskErrorKinds.Name(r.ErrorKind),
            error = r.Error,
            attempts = r.Attempts,
            duration_ms = Math.Round(r.Duration.TotalMilliseconds, 1),
            started_at = r.StartedAt,
            from_cache = r.FromCache,
            result = r.Value,
        };
    }

    /// <summary>A summary as JSON.</summary>
    public static object Json(EvaluationSummary s) => new
    {
        tasks = s.Tasks,
        completed = s.Completed,
        failed = s.Failed,
        from_cache = s.FromCache,
        mean_score = s.MeanScore,
        mean_score_ci95 = new[] { s.MeanScoreLow, s.MeanScoreHigh },
        success_rate = s.SuccessRate,
        p50_ms = s.P50Duration is { } p50 ? Math.Round(p50.TotalMilliseconds, 1) : (double?)null,
        p95_ms = s.P95Duration is { } p95 ? Math.Round(p95.TotalMilliseconds, 1) : (double?)null,
        failures = s.Failures.Select(f => new { kind = TaskErrorKinds.Name(f.Kind), count = f.Count, example_task = f.ExampleTaskId, example_error = f.ExampleError }),
    };

    /// <summary>A stored run as JSON.</summary>
    public static object Json(RunInfo r) => new
    {
        id = r.Id,
        created_at = r.CreatedAt,
        finished_at = r.FinishedAt,
        status = Status(r.Status),
        environment = r.Environment,
        image_digest = r.ImageDigest,
        method = r.Method,
        kwargs = JsonDocument.Parse(r.Kwargs).RootElement,
        task_id_parameter = r.TaskIdParameter,
        concurrency = r.Concurrency,
        timeout_s = r.TaskTimeout is { } t && t != Timeout.InfiniteTimeSpan ? t.TotalSeconds : (double?)null,
        retries = r.Retries,
        use_cache = r.UseCache,
        label = r.Label,
        task_count = r.TaskCount,
        result_count = r.ResultCount,
        failed_count = r.FailedCount,
        cache_hits = r.CacheHits,
        mean_score = r.MeanScore,
        success_rate = r.SuccessRate,
    };

    public static string Status(RunStatus status) => status switch
    {
        RunStatus.Completed => "completed",
        RunStatus.Interrupted => "interrupted",
        _ => "running",
    };

    /// <summary>The closing summary for people: mean with its interval, success rate, durations, cache hits, failures by kind with an example.</summary>
    public static void WriteSummary(AfsConsole console, string runId, RunInfo? run, EvaluationSummary s, IReadOnlyList<TaskResult> results)
    {
        if (run?.Label is { } label)
        {
            console.Line(label);
        }
        console.Line($"run {runId}: {s.Tasks} tasks, {s.Completed} completed, {s.Failed} failed, {s.FromCache} from the cache" +
            (run is null ? "" : $" ({Status(run.Status)}, {run.ResultCount} of {run.TaskCount} tasks have a result)"));
        console.Line($"mean score {F(s.MeanScore)} (95% CI {F(s.MeanScoreLow)} to {F(s.MeanScoreHigh)}), success rate {s.SuccessRate.ToString("P1", CultureInfo.InvariantCulture)}, " +
            $"duration p50 {Ms(s.P50Duration)} p95 {Ms(s.P95Duration)}, cache hits {s.FromCache}");
        foreach (var f in s.Failures)
        {
            console.Line($"  {TaskErrorKinds.Name(f.Kind)}: {f.Count} (e.g. task {f.ExampleTaskId}: {ErrorReport.OneLine(Shorten(f.ExampleError, 300))})");
        }
        // Environments that catch their own failures (an unreachable model) return a result with an error: say so.
        var reported = results.Where(r => r.Value is { ValueKind: JsonValueKind.Object } v && v.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String).ToList();
        if (reported.Count > 0)
        {
            var first = reported.MinBy(r => r.TaskId)!;
            console.Line($"  results that report an error: {reported.Count} (e.g. task {first.TaskId}: {ErrorReport.OneLine(Shorten(first.Value!.Value.GetProperty("error").GetString()!, 300))})");
        }
    }

    public static string F(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

    public static string Ms(TimeSpan? duration) => duration is { } d
        ? d.TotalMilliseconds >= 10_000 ? $"{d.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s" : $"{d.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms"
        : "-";

    public static string Shorten(string text, int max) => text.Length <= max ? text : text[..max] + "...";
}
