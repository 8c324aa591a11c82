using System.Globalization;
using System.Text;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.View;

/// <summary>
/// One run: what was asked, the live section (progress, figures, charts), failures by kind, and the task table a page
/// at a time, sortable by every column and filtered to the failed ones (served), or in task order (exported).
/// </summary>
internal static class RunPage
{
    /// <summary>Rows of the task table per page.</summary>
    public const int PageSize = 200;

    /// <summary>How the task table is ordered and filtered: <c>?sort=score&amp;dir=desc&amp;failed=1&amp;page=2</c>.</summary>
    public sealed record TaskQuery(string Sort, bool Descending, bool FailedOnly, int Page)
    {
        public static readonly TaskQuery Default = new("task", false, false, 1);

        public static TaskQuery Parse(string? sort, string? dir, string? failed, string? page) => new(
            TaskOrder.Columns.Contains(sort) ? sort! : "task",
            dir == "desc",
            failed is "1" or "true",
            int.TryParse(page, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p > 0 ? p : 1);

        public TaskOrder Order => new(Sort, Descending, FailedOnly, (Page - 1) * PageSize, PageSize);

        public string Href(string? sort = null, bool? descending = null, bool? failedOnly = null, int? page = null)
        {
            var query = $"?sort={sort ?? Sort}&dir={((descending ?? Descending) ? "desc" : "asc")}";
            if (failedOnly ?? FailedOnly)
            {
                query += "&failed=1";
            }
            var p = page ?? Page;
            return p > 1 ? query + "&page=" + p.ToString(CultureInfo.InvariantCulture) : query;
        }
    }

    public static string Render(ViewLinks links, RunInfo run, string liveHtml, EvaluationSummary summary, IReadOnlyList<TaskRow> rows, int rowCount, TaskQuery query)
    {
        var html = new StringBuilder();
        html.Append(Format.Inv, $"<h2>Run {Html.Encode(run.Id)} {Format.Status(run.Status)}</h2><div class=\"card\"><dl class=\"fields two\">");
        Field(html, "environment", Html.Encode(run.Environment ?? "(not recorded)"));
        Field(html, "image digest", Html.Encode(run.ImageDigest ?? "(not recorded)"));
        if (Format.ModelOf(run) is { } model)
        {
            Field(html, "model", Html.Encode(model));
        }
        Field(html, "method", $"<code>{Html.Encode(run.Method)}</code>, task id as <code>{Html.Encode(run.TaskIdParameter)}</code>");
        Field(html, "kwargs", $"<code>{Html.Encode(run.Kwargs)}</code>");
        if (run.Label is not null)
        {
            Field(html, "label", Html.Encode(run.Label));
        }
        Field(html, "settings", Html.Encode(string.Create(Format.Inv,
            $"concurrency {run.Concurrency}, retries {run.Retries}, task timeout {(run.TaskTimeout is { } t && t != Timeout.InfiniteTimeSpan ? Format.Duration(t) : "none")}, cache {(run.UseCache ? "on" : "off")}, transcripts {(run.RecordTranscripts ? "kept" : "off")}")));
        Field(html, "started", Format.Date(run.CreatedAt));
        Field(html, "finished", run.FinishedAt is { } f ? $"{Format.Date(f)} (after {Format.Duration(f - run.CreatedAt)})" : "not yet");
        Field(html, "export", $"<a id=\"csv\" href=\"{links.Csv(run.Id)}\">CSV</a> · <a id=\"json\" href=\"{links.Json(run.Id)}\">JSON</a> <span class=\"muted\">(every task with its result)</span>");
        html.Append("</dl></div>");

        var live = run.Status == RunStatus.Running && links.Served ? $" data-stream=\"{links.Run(run.Id)}/live\"" : "";
        html.Append(Format.Inv, $"<section id=\"live\" aria-live=\"polite\"{live}>").Append(liveHtml).Append("</section>");

        if (summary.Failures.Count > 0)
        {
            html.Append("<h2>Failures</h2><div class=\"scroll\"><table id=\"failures\"><thead><tr><th scope=\"col\">kind</th><th scope=\"col\" class=\"num\">tasks</th><th scope=\"col\">example</th></tr></thead><tbody>");
            foreach (var group in summary.Failures)
            {
                html.Append(Format.Inv, $"<tr><td>{TaskErrorKinds.Name(group.Kind)}</td><td class=\"num\">{group.Count}</td><td class=\"wide\"><a href=\"{links.Task(run.Id, group.ExampleTaskId)}\">task {group.ExampleTaskId}</a>: {Html.Encode(Format.Shorten(group.ExampleError, 200))}</td></tr>");
            }
            html.Append("</tbody></table></div>");
        }

        var pages = Math.Max(1, (rowCount + PageSize - 1) / PageSize);
        var page = Math.Min(query.Page, pages);
        html.Append("<h2 id=\"tasks\">Tasks</h2><div class=\"filters\">");
        if (links.Served)
        {
            html.Append(query.FailedOnly
                ? $"<span>Failed tasks only ({rowCount})</span><a id=\"filter\" href=\"{query.Href(failedOnly: false, page: 1)}#tasks\">Show all {summary.Tasks} tasks</a>"
                : $"<span>All tasks ({rowCount})</span><a id=\"filter\" href=\"{query.Href(failedOnly: true, page: 1)}#tasks\">Show failed only ({summary.Failed})</a>");
        }
        else
        {
            html.Append(Format.Inv, $"<span>All tasks ({rowCount}) in task order</span><span class=\"muted\">sorting and filters need <code>afs view</code></span>");
        }
        html.Append("</div><div class=\"scroll\"><table id=\"task-table\"><thead><tr>");
        foreach (var (column, title, numeric) in new[] { ("task", "task", true), ("score", "score", true), ("success", "success", false), ("duration", "duration", true), ("attempts", "attempts", true), ("error", "error", false) })
        {
            var sorted = query.Sort == column;
            var ariaSort = sorted ? $" aria-sort=\"{(query.Descending ? "descending" : "ascending")}\"" : "";
            var next = sorted ? !query.Descending : column is "score" or "duration" or "attempts";
            var heading = links.Served ? $"<a data-sort=\"{column}\" href=\"{query.Href(column, next, page: 1)}#tasks\">{title}</a>" : title;
            html.Append(Format.Inv, $"<th scope=\"col\"{(numeric ? " class=\"num\"" : "")}{ariaSort}>{heading}</th>");
        }
        html.Append("</tr></thead><tbody>");
        foreach (var (r, error) in rows)
        {
            var errorText = r.Completed ? "" : $"{TaskErrorKinds.Name(r.ErrorKind)}: {Format.Shorten(error ?? "", 120)}";
            html.Append(Format.Inv, $"""
                <tr data-task="{r.TaskId}"{(r.Completed ? "" : " class=\"failed\"")}><td class="num"><a href="{links.Task(run.Id, r.TaskId)}">{r.TaskId}</a></td>
                <td class="num">{SvgCharts.Fmt(r.Score)}</td><td>{(r.Success ? "<span class=\"ok\">yes</span>" : "<span class=\"bad\">no</span>")}{(r.FromCache ? " <span class=\"muted\">(cache)</span>" : "")}</td>
                <td class="num">{Format.Duration(TimeSpan.FromMilliseconds(r.DurationMs))}</td><td class="num">{r.Attempts}</td><td class="wide">{Html.Encode(errorText)}</td></tr>
                """);
        }
        html.Append("</tbody></table></div>");
        if (pages > 1)
        {
            html.Append(Format.Inv, $"<nav class=\"pager\" aria-label=\"Pages\"><span>page {page} of {pages}</span>");
            if (page > 1)
            {
                html.Append(Format.Inv, $"<a rel=\"prev\" href=\"{(links.Served ? query.Href(page: page - 1) + "#tasks" : links.RunTablePage(run.Id, page - 1))}\">previous</a>");
            }
            if (page < pages)
            {
                html.Append(Format.Inv, $"<a rel=\"next\" href=\"{(links.Served ? query.Href(page: page + 1) + "#tasks" : links.RunTablePage(run.Id, page + 1))}\">next</a>");
            }
            html.Append("</nav>");
        }
        return html.ToString();
    }

    private static void Field(StringBuilder html, string name, string valueHtml) => html.Append(Format.Inv, $"<dt>{name}</dt><dd>{valueHtml}</dd>");
}
