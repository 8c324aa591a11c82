using System.Text;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.View;

/// <summary>
/// The part of a run's page that moves while the run goes on: progress (done, failed, in flight, rate, ETA), the
/// summary figures and the score and latency charts. The run page renders it, and while the run runs the server
/// sends it again as it changes (<c>/runs/ID/live</c>), which the page puts in place.
/// </summary>
internal static class LiveSection
{
    /// <summary>A running run whose process wrote no progress for this long is said to be stalled (killed, or stuck).</summary>
    public static readonly TimeSpan Stalled = TimeSpan.FromSeconds(15);

    /// <summary>The summary of <paramref name="figures"/>, as <see cref="EvaluationSummary.Of(IReadOnlyCollection{TaskResult})"/> computes it for results.</summary>
    public static EvaluationSummary Summarize(IReadOnlyList<TaskFigures> figures, IReadOnlyDictionary<long, string>? examples = null) =>
        EvaluationSummary.Of(figures, examples ?? new Dictionary<long, string>());

    /// <summary>
    /// The section of <paramref name="run"/> from its <paramref name="figures"/>, their <paramref name="summary"/> and,
    /// while it runs, its <paramref name="progress"/> (or, where its process writes none, the results started in the
    /// last minute, <paramref name="startedLastMinute"/>, for a rate) as of <paramref name="now"/>.
    /// </summary>
    public static string Render(RunInfo run, IReadOnlyList<TaskFigures> figures, EvaluationSummary summary, RunProgress? progress, int startedLastMinute, DateTimeOffset now)
    {
        var html = new StringBuilder();
        if (run.Status == RunStatus.Running)
        {
            Progress(html, run, figures, progress, startedLastMinute, now);
        }
        html.Append("<div class=\"card\"><dl class=\"figures\">");
        Figure(html, "tasks", "tasks", $"{figures.Count}/{run.TaskCount}");
        Figure(html, "mean", "mean score [95% CI]", Format.MeanWithInterval(summary));
        Figure(html, "success", "success rate", Format.Percent(summary.Tasks == 0 ? null : summary.SuccessRate));
        Figure(html, "failed", "failed", Format.Failed(summary.Failed));
        Figure(html, "cached", "from cache", summary.FromCache.ToString(Format.Inv));
        Figure(html, "latency", "p50 / p95 latency", $"{Format.Duration(summary.P50Duration)} / {Format.Duration(summary.P95Duration)}");
        html.Append("</dl></div>");
        var latencies = figures.Where(f => !f.FromCache).Select(f => f.DurationMs).ToList();
        html.Append("<div class=\"charts\"><figure><figcaption>Score distribution</figcaption>")
            .Append(SvgCharts.Histogram("scores", "score", SvgCharts.Bins([.. figures.Select(f => f.Score)], 10), SvgCharts.Fmt))
            .Append("</figure><figure><figcaption>Latency distribution</figcaption>")
            .Append(SvgCharts.Histogram("latency", "task duration (ms, tasks run, not cached)", SvgCharts.Bins(latencies, 10), v => v.ToString("0", Format.Inv)))
            .Append("</figure></div>");
        return html.ToString();
    }

    /// <summary>
    /// Done of total with a bar, failed, in flight, rate and ETA: from the run's progress row when its process writes
    /// one, else what the results alone say (and that in flight is unknown).
    /// </summary>
    private static void Progress(StringBuilder html, RunInfo run, IReadOnlyList<TaskFigures> figures, RunProgress? progress, int startedLastMinute, DateTimeOffset now)
    {
        var done = figures.Count;
        var failed = figures.Count(f => !f.Completed);
        double rate;
        string inFlight;
        string? note = null;
        if (progress is not null)
        {
            rate = progress.Rate;
            inFlight = progress.InFlight.ToString(Format.Inv);
            var silent = now - progress.UpdatedAt;
            if (silent > Stalled)
            {
                note = $"Its process has written no progress for {Format.Duration(silent)}: it may have been killed (<code>afs eval --resume {Html.Encode(run.Id)}</code> runs what is missing).";
                inFlight = "–";
            }
        }
        else if (done == 0)
        {
            rate = 0;
            inFlight = "–";
            note = "No task has finished yet.";
        }
        else
        {
            // No progress row (a process that does not write one): the results started over the last minute.
            rate = startedLastMinute / Math.Min(60, Math.Max(1, (now - run.CreatedAt).TotalSeconds));
            inFlight = "–";
            note = "Tasks in flight are not known: the process writing this run records no progress (an older afs).";
        }
        var left = run.TaskCount - done;
        var eta = rate > 0 ? TimeSpan.FromSeconds(left / rate) : (TimeSpan?)null;
        html.Append(Format.Inv, $"""
            <div class="card progress" id="progress" data-done="{done}" data-total="{run.TaskCount}">
            <progress max="{Math.Max(1, run.TaskCount)}" value="{done}" aria-label="tasks done">{done} of {run.TaskCount}</progress>
            <dl class="figures">
            """);
        Figure(html, "done", "done", $"{done}/{run.TaskCount}");
        Figure(html, "run-failed", "failed", Format.Failed(failed));
        Figure(html, "in-flight", "in flight", inFlight);
        Figure(html, "rate", "rate", rate > 0 ? rate.ToString(rate >= 10 ? "0" : "0.0#", Format.Inv) + " tasks/s" : "–");
        Figure(html, "eta", "ETA", eta is { } e ? Format.Duration(e) : "–");
        if (progress is not null)
        {
            Figure(html, "retries", "retries", progress.Retries.ToString(Format.Inv));
        }
        html.Append("</dl>");
        if (note is not null)
        {
            html.Append("<p class=\"muted note\">").Append(note).Append("</p>");
        }
        html.Append(Format.Inv, $"<p class=\"muted note\">Updated {Format.Date(now)}; the task table below is as the page was loaded.</p></div>");
    }

    private static void Figure(StringBuilder html, string name, string title, string valueHtml) =>
        html.Append(Format.Inv, $"<div data-figure=\"{name}\"><dt>{title}</dt><dd>{valueHtml}</dd></div>");
}
