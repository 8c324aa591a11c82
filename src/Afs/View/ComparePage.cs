using System.Globalization;
using System.Text;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.View;

/// <summary>
/// Runs side by side, each told apart by a letter, its id, image, digest and model: their means with intervals and
/// success rates as bars, a table of their figures, and two of them compared task by task (the tasks where they
/// disagree first, sortable by the difference).
/// </summary>
internal static class ComparePage
{
    public const int PageSize = 200;

    public static readonly IReadOnlyList<string> Sorts = ["disagreement", "difference", "task", "a", "b"];

    /// <summary>A run as compared: its letter, the run and the summary of its results.</summary>
    public sealed record Side(string Letter, RunInfo Run, EvaluationSummary Summary);

    /// <summary>The per-task table's order and page: <c>?sort=difference&amp;dir=desc&amp;page=2</c> (with the runs and <c>a</c>, <c>b</c>).</summary>
    public sealed record Query(IReadOnlyList<string> RunIds, string? A, string? B, string Sort, bool Descending, int Page)
    {
        public static Query Parse(IReadOnlyList<string> runIds, string? a, string? b, string? sort, string? dir, string? page) => new(runIds,
            string.IsNullOrEmpty(a) ? null : a, string.IsNullOrEmpty(b) ? null : b,
            Sorts.Contains(sort) ? sort! : "disagreement", dir == "desc",
            int.TryParse(page, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p > 0 ? p : 1);

        public string Href(ViewLinks links, string? sort = null, bool? descending = null, int? page = null)
        {
            var href = links.Compare(RunIds, A, B);
            if (!links.Served)
            {
                return href;
            }
            href += $"&sort={sort ?? Sort}&dir={((descending ?? Descending) ? "desc" : "asc")}";
            var p = page ?? Page;
            return p > 1 ? href + "&page=" + p.ToString(CultureInfo.InvariantCulture) : href;
        }
    }

    /// <summary>A, B, ..., Z, then AA, AB ...</summary>
    public static string Letter(int index) => index < 26 ? ((char)('A' + index)).ToString() : Letter((index / 26) - 1) + Letter(index % 26);

    public static string Render(ViewLinks links, IReadOnlyList<Side> sides, Query query, (Side A, Side B, ComparisonPage Page)? pair)
    {
        var html = new StringBuilder("<h2>Runs side by side</h2>");
        if (sides.Count == 0)
        {
            return html.Append("<p class=\"card\">No runs to compare.</p>").ToString();
        }
        string Label(Side s) => $"{s.Letter} {Format.ShortId(s.Run.Id)}";
        html.Append("<div class=\"charts\"><figure><figcaption>Mean score with its 95% interval</figcaption>")
            .Append(SvgCharts.Bars("compare", "mean score per run", [.. sides.Select(s => (Label(s), Format.Identity(s.Run), s.Summary.MeanScore, s.Summary.MeanScoreLow, s.Summary.MeanScoreHigh))]))
            .Append("</figure><figure><figcaption>Success rate</figcaption>")
            .Append(SvgCharts.Bars("success", "share of tasks with success", [.. sides.Select(s => (Label(s), Format.Identity(s.Run), s.Summary.SuccessRate, s.Summary.SuccessRate, s.Summary.SuccessRate))]))
            .Append("</figure></div>");
        html.Append("""
            <div class="scroll"><table id="compare-table"><thead><tr><th scope="col">bar</th><th scope="col">run</th><th scope="col">environment</th><th scope="col">digest</th>
            <th scope="col">model</th><th scope="col">label</th><th scope="col" class="num">tasks</th><th scope="col" class="num">mean score [95% CI]</th>
            <th scope="col" class="num">success</th><th scope="col" class="num">failed</th><th scope="col" class="num">p50 latency</th></tr></thead><tbody>
            """);
        foreach (var (letter, run, summary) in sides)
        {
            html.Append(Format.Inv, $"""
                <tr data-run="{Html.Encode(run.Id)}"><th scope="row">{letter}</th><td><a href="{links.Run(run.Id)}">{Html.Encode(run.Id)}</a></td>
                <td class="clip" title="{Html.Encode(run.Environment ?? "")}">{Html.Encode(run.Environment ?? "–")}</td><td>{Format.Digest(run.ImageDigest)}</td>
                <td>{Html.Encode(Format.ModelOf(run) ?? "–")}</td><td>{Html.Encode(run.Label ?? "")}</td><td class="num">{summary.Tasks}/{run.TaskCount}</td>
                <td class="num">{Format.MeanWithInterval(summary)}</td><td class="num">{Format.Percent(summary.Tasks == 0 ? null : summary.SuccessRate)}</td>
                <td class="num">{Format.Failed(summary.Failed)}</td><td class="num">{Format.Duration(summary.P50Duration)}</td></tr>
                """);
        }
        html.Append("</tbody></table></div>");
        if (pair is { } chosen)
        {
            Differences(html, links, sides, query, chosen.A, chosen.B, chosen.Page);
        }
        return html.ToString();
    }

    private static void Differences(StringBuilder html, ViewLinks links, IReadOnlyList<Side> sides, Query query, Side a, Side b, ComparisonPage page)
    {
        html.Append(Format.Inv, $"<h2 id=\"differences\">Task by task: {a.Letter} against {b.Letter}</h2>");
        if (links.Served && sides.Count > 2)
        {
            html.Append("<form class=\"filters card\" action=\"/compare\" method=\"get\" id=\"pair\">");
            foreach (var side in sides)
            {
                html.Append(Format.Inv, $"<input type=\"hidden\" name=\"run\" value=\"{Html.Encode(side.Run.Id)}\">");
            }
            foreach (var (name, chosen) in new[] { ("a", a), ("b", b) })
            {
                html.Append(Format.Inv, $"<label>{name.ToUpperInvariant()} is <select name=\"{name}\">");
                foreach (var side in sides)
                {
                    html.Append(Format.Inv, $"<option value=\"{Html.Encode(side.Run.Id)}\"{(side == chosen ? " selected" : "")}>{side.Letter} {Html.Encode(side.Run.Id)}</option>");
                }
                html.Append("</select></label>");
            }
            html.Append("<button type=\"submit\">Compare these two</button></form>");
        }
        html.Append(Format.Inv, $"""
            <div class="card"><dl class="figures" id="agreement">
            <div><dt>tasks in both</dt><dd>{page.Both}</dd></div>
            <div data-figure="success-differs"><dt>success differs</dt><dd>{Format.Failed(page.SuccessDiffers)}</dd></div>
            <div data-figure="score-differs"><dt>score differs</dt><dd>{page.ScoreDiffers}</dd></div>
            <div><dt>mean difference ({b.Letter} − {a.Letter})</dt><dd>{(page.MeanDifference is { } d ? (d > 0 ? "+" : "") + SvgCharts.Fmt(d) : "–")}</dd></div>
            <div><dt>only in {a.Letter} / only in {b.Letter}</dt><dd>{page.OnlyA} / {page.OnlyB}</dd></div>
            </dl></div>
            """);
        if (links.Served)
        {
            html.Append(Format.Inv, $"<div class=\"filters\"><span>Ordered by {(query.Sort == "disagreement" ? "disagreement: success differs first, then the largest score difference" : query.Sort)}</span>{(query.Sort == "disagreement" ? "" : $"<a href=\"{query.Href(links, "disagreement", false, 1)}#differences\">disagreements first</a>")}</div>");
        }
        html.Append("<div class=\"scroll\"><table id=\"task-differences\"><thead><tr>");
        foreach (var (column, title) in new[] { ("task", "task"), ("a", $"{a.Letter} score"), ("b", $"{b.Letter} score"), ("difference", $"{b.Letter} − {a.Letter}") })
        {
            var sorted = query.Sort == column;
            var ariaSort = sorted ? $" aria-sort=\"{(query.Descending ? "descending" : "ascending")}\"" : "";
            var heading = links.Served ? $"<a data-sort=\"{column}\" href=\"{query.Href(links, column, sorted ? !query.Descending : column != "task", 1)}#differences\">{title}</a>" : title;
            html.Append(Format.Inv, $"<th scope=\"col\" class=\"num\"{ariaSort}>{heading}</th>");
        }
        html.Append(Format.Inv, $"<th scope=\"col\">{a.Letter} success</th><th scope=\"col\">{b.Letter} success</th></tr></thead><tbody>");
        foreach (var row in page.Rows)
        {
            var disagree = row.A is { } x && row.B is { } y && (x.Success != y.Success || x.Score != y.Score);
            html.Append(Format.Inv, $"<tr data-task=\"{row.TaskId}\"{(disagree ? " class=\"differs\"" : "")}><td class=\"num\">{row.TaskId}</td>");
            html.Append(Format.Inv, $"<td class=\"num\">{Score(links, a.Run.Id, row.TaskId, row.A)}</td><td class=\"num\">{Score(links, b.Run.Id, row.TaskId, row.B)}</td>");
            html.Append(Format.Inv, $"<td class=\"num\" data-difference=\"{(row.Difference is { } diff ? SvgCharts.Fmt(diff) : "")}\">{Difference(row.Difference)}</td>");
            html.Append(Format.Inv, $"<td>{Success(row.A)}</td><td>{Success(row.B)}</td></tr>");
        }
        html.Append("</tbody></table></div>");
        var pages = Math.Max(1, (page.Tasks + PageSize - 1) / PageSize);
        if (pages > 1 && links.Served)
        {
            html.Append(Format.Inv, $"<nav class=\"pager\" aria-label=\"Pages\"><span>page {query.Page} of {pages}</span>");
            if (query.Page > 1)
            {
                html.Append(Format.Inv, $"<a rel=\"prev\" href=\"{query.Href(links, page: query.Page - 1)}#differences\">previous</a>");
            }
            if (query.Page < pages)
            {
                html.Append(Format.Inv, $"<a rel=\"next\" href=\"{query.Href(links, page: query.Page + 1)}#differences\">next</a>");
            }
            html.Append("</nav>");
        }
        else if (pages > 1)
        {
            html.Append(Format.Inv, $"<p class=\"muted\">The first {PageSize} of {page.Tasks} tasks; <code>afs view</code> pages through the rest.</p>");
        }
    }

    private static string Score(ViewLinks links, string runId, long taskId, TaskFigures? side) => side is { } s
        ? $"<a href=\"{links.Task(runId, taskId)}\">{SvgCharts.Fmt(s.Score)}</a>{(s.Completed ? "" : " <span class=\"bad\" title=\"" + TaskErrorKinds.Name(s.ErrorKind) + "\">(failed)</span>")}"
        : "<span class=\"muted\">no result</span>";

    private static string Difference(double? difference) => difference switch
    {
        null => "<span class=\"muted\">–</span>",
        > 0 and var d => $"<span class=\"ok\">+{SvgCharts.Fmt(d)}</span>",
        < 0 and var d => $"<span class=\"bad\">{SvgCharts.Fmt(d)}</span>",
        _ => "0",
    };

    private static string Success(TaskFigures? side) => side is not { } s ? "<span class=\"muted\">–</span>" : s.Success ? "<span class=\"ok\">yes</span>" : "<span class=\"bad\">no</span>";
}
