using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.View;

/// <summary>The viewer's pages as HTML: the runs list, one run (figures, charts, the task table), one task, runs side by side.</summary>
internal static class ViewPages
{
    /// <summary>Rows of the task table per page.</summary>
    public const int PageSize = 200;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A run and the summary of its results, as the list and the comparison show it.</summary>
    public sealed record RunRow(RunInfo Run, EvaluationSummary Summary);

    public static string Layout(string title, string storePath, string styleUrl, string body, params (string Text, string? Href)[] crumbs)
    {
        var html = new StringBuilder();
        html.Append(Inv, $"""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{Html.Encode(title)} · afs view</title><link rel="icon" href="data:,"><link rel="stylesheet" href="{styleUrl}"></head>
            <body><header><h1><a href="/">afs view</a></h1><span class="store">{Html.Encode(storePath)}</span></header>
            """);
        if (crumbs.Length > 0)
        {
            html.Append("<nav class=\"crumbs\" aria-label=\"Breadcrumbs\">");
            html.AppendJoin(" / ", crumbs.Select(c => c.Href is null ? Html.Encode(c.Text) : $"<a href=\"{c.Href}\">{Html.Encode(c.Text)}</a>"));
            html.Append("</nav>");
        }
        html.Append("<main id=\"main\">").Append(body).Append("</main></body></html>");
        return html.ToString();
    }

    public static string Runs(IReadOnlyList<RunRow> rows)
    {
        var html = new StringBuilder("<h2>Runs</h2>");
        if (rows.Count == 0)
        {
            return html.Append("<p class=\"card\">The store has no runs yet: <code>afs eval</code> writes them.</p>").ToString();
        }
        html.Append("""
            <form action="/compare" method="get"><div class="scroll"><table id="runs"><thead><tr>
            <th scope="col"><span class="muted">compare</span></th><th scope="col">run</th><th scope="col">environment</th><th scope="col">digest</th><th scope="col">method</th>
            <th scope="col" class="num">tasks</th><th scope="col" class="num">mean score [95% CI]</th><th scope="col" class="num">success</th><th scope="col" class="num">failed</th>
            <th scope="col" class="num">duration</th><th scope="col">date</th><th scope="col">status</th></tr></thead><tbody>
            """);
        foreach (var (run, summary) in rows)
        {
            var id = Html.Encode(run.Id);
            html.Append(Inv, $"""
                <tr data-run="{id}"><td><input type="checkbox" name="run" value="{id}" aria-label="compare {id}"></td>
                <td><a href="/runs/{Html.Url(run.Id)}">{id}</a>{(run.Label is null ? "" : $"<br><span class=\"muted\">{Html.Encode(run.Label)}</span>")}</td>
                <td class="wide">{Html.Encode(run.Environment ?? "")}</td><td>{Digest(run.ImageDigest)}</td><td>{Html.Encode(run.Method)}</td>
                <td class="num">{run.ResultCount}/{run.TaskCount}</td><td class="num">{MeanWithInterval(summary)}</td>
                <td class="num">{Percent(summary.SuccessRate, summary.Tasks)}</td><td class="num">{Failed(summary.Failed)}</td>
                <td class="num">{Duration(run.FinishedAt - run.CreatedAt)}</td><td>{Date(run.CreatedAt)}</td><td>{Status(run.Status)}</td></tr>
                """);
        }
        html.Append("</tbody></table></div><p><button type=\"submit\">Compare selected runs</button> <span class=\"muted\">(none selected: all runs listed)</span></p></form>");
        return html.ToString();
    }

    /// <summary>How the task table is ordered and filtered: <c>?sort=score&amp;dir=desc&amp;failed=1&amp;page=2</c>.</summary>
    public sealed record TaskQuery(string Sort, bool Descending, bool FailedOnly, int Page)
    {
        public static readonly string[] Columns = ["task", "score", "success", "duration", "attempts", "error"];

        public static TaskQuery Parse(string? sort, string? dir, string? failed, string? page) => new(
            Columns.Contains(sort) ? sort! : "task",
            dir == "desc",
            failed is "1" or "true",
            int.TryParse(page, NumberStyles.None, Inv, out var p) && p > 0 ? p : 1);

        public string Href(string? sort = null, bool? descending = null, bool? failedOnly = null, int? page = null)
        {
            var query = $"?sort={sort ?? Sort}&dir={((descending ?? Descending) ? "desc" : "asc")}";
            if (failedOnly ?? FailedOnly)
            {
                query += "&failed=1";
            }
            var p = page ?? Page;
            return p > 1 ? query + "&page=" + p.ToString(Inv) : query;
        }

        public IEnumerable<TaskResult> Apply(IEnumerable<TaskResult> results)
        {
            var chosen = FailedOnly ? results.Where(r => !r.Completed) : results;
            Func<TaskResult, IComparable> key = Sort switch
            {
                "score" => r => r.Score,
                "success" => r => r.Success,
                "duration" => r => r.Duration,
                "attempts" => r => r.Attempts,
                "error" => r => TaskErrorKinds.Name(r.ErrorKind),
                _ => r => r.TaskId,
            };
            var ordered = Descending ? chosen.OrderByDescending(key) : chosen.OrderBy(key);
            return ordered.ThenBy(r => r.TaskId);
        }
    }

    public static string Run(RunInfo run, IReadOnlyList<TaskResult> results, EvaluationSummary summary, TaskQuery query)
    {
        var html = new StringBuilder();
        html.Append(Inv, $"<h2>Run {Html.Encode(run.Id)} {Status(run.Status)}</h2><div class=\"card\"><dl class=\"fields\">");
        Field(html, "environment", Html.Encode(run.Environment ?? "(not recorded)"));
        Field(html, "image digest", Html.Encode(run.ImageDigest ?? "(not recorded)"));
        Field(html, "method", $"<code>{Html.Encode(run.Method)}</code>, task id as <code>{Html.Encode(run.TaskIdParameter)}</code>");
        Field(html, "kwargs", $"<code>{Html.Encode(run.Kwargs)}</code>");
        if (run.Label is not null)
        {
            Field(html, "label", Html.Encode(run.Label));
        }
        Field(html, "settings", Html.Encode(string.Create(Inv,
            $"concurrency {run.Concurrency}, retries {run.Retries}, task timeout {(run.TaskTimeout is { } t && t != Timeout.InfiniteTimeSpan ? Duration(t) : "none")}, cache {(run.UseCache ? "on" : "off")}")));
        Field(html, "started", Date(run.CreatedAt));
        Field(html, "finished", run.FinishedAt is { } f ? $"{Date(f)} (after {Duration(f - run.CreatedAt)})" : "not yet");
        html.Append("</dl></div>");

        html.Append("<div class=\"card\"><dl class=\"figures\">");
        Figure(html, "tasks", $"{results.Count}/{run.TaskCount}");
        Figure(html, "mean score [95% CI]", MeanWithInterval(summary));
        Figure(html, "success rate", Percent(summary.SuccessRate, summary.Tasks));
        Figure(html, "failed", Failed(summary.Failed));
        Figure(html, "from cache", summary.FromCache.ToString(Inv));
        Figure(html, "p50 / p95 latency", $"{Duration(summary.P50Duration)} / {Duration(summary.P95Duration)}");
        html.Append("</dl></div>");

        var latencies = results.Where(r => !r.FromCache).Select(r => r.Duration.TotalMilliseconds).ToList();
        html.Append("<div class=\"charts\"><figure><figcaption>Score distribution</figcaption>")
            .Append(SvgCharts.Histogram("scores", "score", SvgCharts.Bins([.. results.Select(r => r.Score)], 10), SvgCharts.Fmt))
            .Append("</figure><figure><figcaption>Latency distribution</figcaption>")
            .Append(SvgCharts.Histogram("latency", "task duration (ms, tasks run, not cached)", SvgCharts.Bins(latencies, 10), v => v.ToString("0", Inv)))
            .Append("</figure></div>");

        if (summary.Failures.Count > 0)
        {
            html.Append("<h2>Failures</h2><div class=\"scroll\"><table id=\"failures\"><thead><tr><th scope=\"col\">kind</th><th scope=\"col\" class=\"num\">tasks</th><th scope=\"col\">example</th></tr></thead><tbody>");
            foreach (var group in summary.Failures)
            {
                html.Append(Inv, $"<tr><td>{TaskErrorKinds.Name(group.Kind)}</td><td class=\"num\">{group.Count}</td><td class=\"wide\"><a href=\"/runs/{Html.Url(run.Id)}/tasks/{group.ExampleTaskId}\">task {group.ExampleTaskId}</a>: {Html.Encode(Shorten(group.ExampleError, 200))}</td></tr>");
            }
            html.Append("</tbody></table></div>");
        }

        var chosen = query.Apply(results).ToList();
        var pages = Math.Max(1, (chosen.Count + PageSize - 1) / PageSize);
        var page = Math.Min(query.Page, pages);
        html.Append("<h2 id=\"tasks\">Tasks</h2><div class=\"filters\">");
        html.Append(query.FailedOnly
            ? $"<span>Failed tasks only ({chosen.Count})</span><a id=\"filter\" href=\"{query.Href(failedOnly: false, page: 1)}#tasks\">Show all {results.Count} tasks</a>"
            : $"<span>All tasks ({chosen.Count})</span><a id=\"filter\" href=\"{query.Href(failedOnly: true, page: 1)}#tasks\">Show failed only ({summary.Failed})</a>");
        html.Append("</div><div class=\"scroll\"><table id=\"task-table\"><thead><tr>");
        foreach (var (column, title, numeric) in new[] { ("task", "task", true), ("score", "score", true), ("success", "success", false), ("duration", "duration", true), ("attempts", "attempts", true), ("error", "error", false) })
        {
            var sorted = query.Sort == column;
            var next = sorted ? !query.Descending : column is "score" or "duration" or "attempts";
            var ariaSort = sorted ? $" aria-sort=\"{(query.Descending ? "descending" : "ascending")}\"" : "";
            html.Append(Inv, $"<th scope=\"col\"{(numeric ? " class=\"num\"" : "")}{ariaSort}><a data-sort=\"{column}\" href=\"{query.Href(column, next, page: 1)}#tasks\">{title}</a></th>");
        }
        html.Append("</tr></thead><tbody>");
        foreach (var r in chosen.Skip((page - 1) * PageSize).Take(PageSize))
        {
            var error = r.Completed ? "" : $"{TaskErrorKinds.Name(r.ErrorKind)}: {Shorten(r.Error ?? "", 120)}";
            html.Append(Inv, $"""
                <tr data-task="{r.TaskId}"{(r.Completed ? "" : " class=\"failed\"")}><td class="num"><a href="/runs/{Html.Url(run.Id)}/tasks/{r.TaskId}">{r.TaskId}</a></td>
                <td class="num">{SvgCharts.Fmt(r.Score)}</td><td>{(r.Success ? "<span class=\"ok\">yes</span>" : "<span class=\"bad\">no</span>")}{(r.FromCache ? " <span class=\"muted\">(cache)</span>" : "")}</td>
                <td class="num">{Duration(r.Duration)}</td><td class="num">{r.Attempts}</td><td class="wide">{Html.Encode(error)}</td></tr>
                """);
        }
        html.Append("</tbody></table></div>");
        if (pages > 1)
        {
            html.Append(Inv, $"<nav class=\"pager\" aria-label=\"Pages\"><span>page {page} of {pages}</span>");
            if (page > 1)
            {
                html.Append(Inv, $"<a href=\"{query.Href(page: page - 1)}#tasks\">previous</a>");
            }
            if (page < pages)
            {
                html.Append(Inv, $"<a href=\"{query.Href(page: page + 1)}#tasks\">next</a>");
            }
            html.Append("</nav>");
        }
        return html.ToString();
    }

    public static string Task(RunInfo run, TaskResult r)
    {
        var html = new StringBuilder();
        html.Append(Inv, $"<h2>Task {r.TaskId} of run {Html.Encode(run.Id)} {(r.Completed ? "<span class=\"ok\">completed</span>" : "<span class=\"bad\">failed</span>")}</h2><div class=\"card\"><dl class=\"fields\">");
        Field(html, "score", SvgCharts.Fmt(r.Score));
        Field(html, "success", r.Success ? "yes" : "no");
        Field(html, "outcome", r.Completed ? "the actor returned a result" : Html.Encode(TaskErrorKinds.Name(r.ErrorKind)));
        Field(html, "started", Date(r.StartedAt));
        Field(html, "duration", Duration(r.Duration) + (r.FromCache ? " (served from the cache)" : ""));
        Field(html, "attempts", r.Attempts.ToString(Inv));
        html.Append("</dl></div>");
        if (!r.Completed)
        {
            html.Append("<h2>Error</h2><pre id=\"error\">").Append(Html.Encode(r.Error ?? "(no message)")).Append("</pre>");
        }
        if (r.AttemptErrors.Count > 0)
        {
            html.Append("<h2>Failed attempts</h2><div class=\"scroll\"><table id=\"attempts\"><thead><tr><th scope=\"col\" class=\"num\">attempt</th><th scope=\"col\">kind</th><th scope=\"col\">message</th></tr></thead><tbody>");
            foreach (var a in r.AttemptErrors)
            {
                html.Append(Inv, $"<tr><td class=\"num\">{a.Attempt}</td><td>{TaskErrorKinds.Name(a.Kind)}</td><td class=\"wide\">{Html.Encode(a.Message)}</td></tr>");
            }
            html.Append("</tbody></table></div>");
        }
        if (r.Value is { } value)
        {
            html.Append("<h2>Result</h2><pre id=\"result\">").Append(Html.Encode(JsonSerializer.Serialize(value, Indented))).Append("</pre>");
        }
        return html.ToString();
    }

    public static string Compare(IReadOnlyList<RunRow> rows)
    {
        var html = new StringBuilder("<h2>Runs side by side</h2>");
        html.Append("<div class=\"charts\"><figure><figcaption>Mean score with its 95% interval</figcaption>")
            .Append(SvgCharts.Bars("compare", "mean score per run", [.. rows.Select(r => (r.Run.Label ?? r.Run.Id, r.Summary.MeanScore, r.Summary.MeanScoreLow, r.Summary.MeanScoreHigh))]))
            .Append("</figure><figure><figcaption>Success rate</figcaption>")
            .Append(SvgCharts.Bars("success", "share of tasks with success", [.. rows.Select(r => (r.Run.Label ?? r.Run.Id, r.Summary.SuccessRate, r.Summary.SuccessRate, r.Summary.SuccessRate))]))
            .Append("</figure></div>");
        html.Append("""<div class="scroll"><table id="compare-table"><thead><tr><th scope="col">run</th><th scope="col">label</th><th scope="col">environment</th><th scope="col">method</th><th scope="col" class="num">tasks</th><th scope="col" class="num">mean score [95% CI]</th><th scope="col" class="num">success</th><th scope="col" class="num">failed</th><th scope="col" class="num">p50 latency</th></tr></thead><tbody>""");
        foreach (var (run, summary) in rows)
        {
            html.Append(Inv, $"""
                <tr><td><a href="/runs/{Html.Url(run.Id)}">{Html.Encode(run.Id)}</a></td><td>{Html.Encode(run.Label ?? "")}</td><td class="wide">{Html.Encode(run.Environment ?? "")}</td><td>{Html.Encode(run.Method)}</td>
                <td class="num">{summary.Tasks}</td><td class="num">{MeanWithInterval(summary)}</td><td class="num">{Percent(summary.SuccessRate, summary.Tasks)}</td><td class="num">{Failed(summary.Failed)}</td><td class="num">{Duration(summary.P50Duration)}</td></tr>
                """);
        }
        return html.Append("</tbody></table></div>").ToString();
    }

    public static string NotFound(string message) => Problem("Not found", message);

    public static string Failure(string message) => Problem("Error", message);

    private static string Problem(string title, string message) =>
        $"<h2>{title}</h2><p class=\"card bad\">{Html.Encode(message)}</p><p><a href=\"/\">All runs</a></p>";

    private static void Field(StringBuilder html, string name, string valueHtml) => html.Append(Inv, $"<dt>{name}</dt><dd>{valueHtml}</dd>");

    private static void Figure(StringBuilder html, string name, string valueHtml) => html.Append(Inv, $"<div><dt>{name}</dt><dd>{valueHtml}</dd></div>");

    private static string MeanWithInterval(EvaluationSummary s) => s.Tasks == 0
        ? "<span class=\"muted\">–</span>"
        : $"{SvgCharts.Fmt(s.MeanScore)} <span class=\"muted\">[{SvgCharts.Fmt(s.MeanScoreLow)}, {SvgCharts.Fmt(s.MeanScoreHigh)}]</span>";

    private static string Percent(double share, int tasks) => tasks == 0 ? "–" : (share * 100).ToString("0.#", Inv) + "%";

    private static string Failed(int failed) => failed == 0 ? "0" : $"<span class=\"bad\">{failed}</span>";

    private static string Digest(string? digest) => digest is null
        ? "<span class=\"muted\">–</span>"
        : $"<code title=\"{Html.Encode(digest)}\">{Html.Encode(digest.StartsWith("sha256:", StringComparison.Ordinal) ? digest[7..Math.Min(digest.Length, 19)] : Shorten(digest, 12))}</code>";

    private static string Status(RunStatus status) => status switch
    {
        RunStatus.Completed => "<span class=\"ok\">completed</span>",
        RunStatus.Interrupted => "<span class=\"bad\">interrupted</span>",
        _ => "<span class=\"muted\">running or killed</span>",
    };

    private static string Date(DateTimeOffset at) => $"<time datetime=\"{at.UtcDateTime.ToString("O", Inv)}\">{at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Inv)} UTC</time>";

    private static string Duration(TimeSpan? span) => span switch
    {
        null => "–",
        { TotalMilliseconds: < 1000 } s => s.TotalMilliseconds.ToString("0", Inv) + " ms",
        { TotalSeconds: < 120 } s => s.TotalSeconds.ToString("0.0", Inv) + " s",
        { TotalMinutes: < 120 } s => s.TotalMinutes.ToString("0.0", Inv) + " min",
        var s => s.Value.TotalHours.ToString("0.0", Inv) + " h",
    };

    private static string Shorten(string text, int max) => text.Length > max ? text[..(max - 1)] + "…" : text;
}
