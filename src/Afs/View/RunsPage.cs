using System.Globalization;
using System.Text;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.View;

/// <summary>
/// The runs, one line each: filters and a search (a form that works without script), the figures of each run, its
/// progress while it runs, and boxes to tick for the comparison.
/// </summary>
internal static class RunsPage
{
    public const int PageSize = 100;

    /// <summary>The index's query string: <c>?q=words&amp;environment=E&amp;model=M&amp;status=running&amp;from=2026-12-01&amp;to=2026-12-31&amp;page=2</c>.</summary>
    public sealed record Query(string? Search, string? Environment, string? Model, RunStatus? Status, DateOnly? From, DateOnly? To, int Page)
    {
        /// <summary>Runs per page; an export lists all of its runs on one.</summary>
        public int PageSize { get; init; } = RunsPage.PageSize;

        /// <summary>These runs only (an export of some runs).</summary>
        public IReadOnlyList<string>? Ids { get; init; }

        public static Query Parse(string? q, string? environment, string? model, string? status, string? from, string? to, string? page) => new(
            string.IsNullOrWhiteSpace(q) ? null : q.Trim(),
            string.IsNullOrEmpty(environment) ? null : environment,
            string.IsNullOrEmpty(model) ? null : model,
            status switch { "running" => RunStatus.Running, "completed" => RunStatus.Completed, "interrupted" => RunStatus.Interrupted, _ => null },
            DateOnly.TryParseExact(from, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var f) ? f : null,
            DateOnly.TryParseExact(to, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? t : null,
            int.TryParse(page, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p > 0 ? p : 1);

        public bool Filtered => Search is not null || Environment is not null || Model is not null || Status is not null || From is not null || To is not null;

        public RunFilter Filter => new()
        {
            Search = Search,
            Environment = Environment,
            Model = Model,
            Status = Status,
            From = From is { } f ? new DateTimeOffset(f.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) : null,
            Before = To is { } t ? new DateTimeOffset(t.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) : null,
            Ids = Ids,
            // One more than a page: whether there is a next page.
            Limit = PageSize == int.MaxValue ? -1 : PageSize + 1,
            Offset = (Page - 1) * PageSize,
        };

        public string Href(int page)
        {
            var parts = new List<string>();
            void Add(string name, string? value)
            {
                if (value is not null)
                {
                    parts.Add(name + "=" + Html.Url(value));
                }
            }
            Add("q", Search);
            Add("environment", Environment);
            Add("model", Model);
            Add("status", Status is { } s ? StatusName(s) : null);
            Add("from", From?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            Add("to", To?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            Add("page", page > 1 ? page.ToString(CultureInfo.InvariantCulture) : null);
            return "/" + (parts.Count == 0 ? "" : "?" + string.Join("&", parts));
        }
    }

    public static string Render(ViewLinks links, IReadOnlyList<RunInfo> runs, IReadOnlyDictionary<string, RunProgress> progress, Query query,
        IReadOnlyList<string> environments, IReadOnlyList<string> models, DateTimeOffset now)
    {
        var html = new StringBuilder("<h2>Runs</h2>");
        if (links.Served)
        {
            Filters(html, query, environments, models);
        }
        var shown = runs.Take(query.PageSize).ToList();
        if (shown.Count == 0)
        {
            return html.Append(query.Filtered
                ? "<p class=\"card\" id=\"no-runs\">No run matches these filters.</p>"
                : "<p class=\"card\" id=\"no-runs\">The store has no runs yet: <code>afs eval</code> writes them.</p>").ToString();
        }
        if (links.Served)
        {
            html.Append("<form action=\"/compare\" method=\"get\" id=\"compare-form\">");
        }
        html.Append("""
            <div class="scroll"><table id="runs" class="compact"><thead><tr>
            """);
        if (links.Served)
        {
            html.Append("<th scope=\"col\"><span class=\"visually-hidden\">compare</span></th>");
        }
        html.Append("""
            <th scope="col">run</th><th scope="col">label</th><th scope="col">image</th><th scope="col">model</th>
            <th scope="col" class="num">tasks</th><th scope="col" class="num" title="the mean score ± the half-width of its 95% confidence interval">mean ± CI</th><th scope="col" class="num">success</th><th scope="col" class="num">failed</th>
            <th scope="col" class="num">duration</th><th scope="col">created</th><th scope="col">status</th></tr></thead><tbody>
            """);
        foreach (var run in shown)
        {
            var id = Html.Encode(run.Id);
            var model = Format.ModelOf(run);
            var image = $"{run.Environment ?? "–"}{(run.ImageDigest is { } digest ? " " + Format.ShortDigest(digest)[..Math.Min(7, Format.ShortDigest(digest).Length)] : "")}";
            html.Append(Format.Inv, $"<tr data-run=\"{id}\">");
            if (links.Served)
            {
                html.Append(Format.Inv, $"<td><input type=\"checkbox\" name=\"run\" value=\"{id}\" aria-label=\"compare {id}\"></td>");
            }
            html.Append(Format.Inv, $"""
                <td><a href="{links.Run(run.Id)}" title="{Html.Encode(run.Method)} on {run.TaskCount} tasks">{id}</a></td>
                <td class="clip narrow" title="{Html.Encode(run.Label ?? "")}">{Html.Encode(run.Label ?? "")}</td>
                <td class="clip" title="{Html.Encode(run.Environment ?? "")} {Html.Encode(run.ImageDigest ?? "")}">{Html.Encode(image)}</td>
                <td class="clip narrow" title="{Html.Encode(model ?? "")}">{Html.Encode(model ?? "–")}</td>
                <td class="num">{run.ResultCount}/{run.TaskCount}</td><td class="num">{MeanPlusMinus(run)}</td>
                <td class="num">{Format.Percent(run.SuccessRate)}</td><td class="num">{Format.Failed(run.FailedCount)}</td>
                <td class="num">{Format.Duration((run.FinishedAt ?? (run.Status == RunStatus.Running ? now : null)) - run.CreatedAt)}</td>
                <td>{Format.ShortDate(run.CreatedAt, now)}</td><td>{Status(run, progress.GetValueOrDefault(run.Id), now)}</td></tr>
                """);
        }
        html.Append("</tbody></table></div>");
        if (links.Served)
        {
            html.Append("<p class=\"actions\"><button type=\"submit\">Compare selected runs</button> <span class=\"muted\">(none selected: the runs listed)</span></p></form>");
            var more = runs.Count > query.PageSize;
            if (query.Page > 1 || more)
            {
                html.Append(Format.Inv, $"<nav class=\"pager\" aria-label=\"Pages\"><span>runs {(query.Page - 1) * query.PageSize + 1} to {(query.Page - 1) * query.PageSize + shown.Count}</span>");
                if (query.Page > 1)
                {
                    html.Append(Format.Inv, $"<a rel=\"prev\" href=\"{query.Href(query.Page - 1)}\">newer</a>");
                }
                if (more)
                {
                    html.Append(Format.Inv, $"<a rel=\"next\" href=\"{query.Href(query.Page + 1)}\">older</a>");
                }
                html.Append("</nav>");
            }
        }
        return html.ToString();
    }

    /// <summary>The mean and the half-width of its 95% interval (<c>0.61 ± 0.17</c>), the interval's ends on hover.</summary>
    private static string MeanPlusMinus(RunInfo run) => run.MeanScore is not { } mean
        ? "<span class=\"muted\">–</span>"
        : $"<span title=\"95% CI [{SvgCharts.Fmt(run.MeanScoreLow ?? mean)}, {SvgCharts.Fmt(run.MeanScoreHigh ?? mean)}]\">{SvgCharts.Fmt(mean)} <span class=\"muted\">± {(((run.MeanScoreHigh ?? mean) - (run.MeanScoreLow ?? mean)) / 2).ToString("0.###", Format.Inv)}</span></span>";

    /// <summary>A running run's status with how far it is; "stalled" when its process stopped writing progress.</summary>
    private static string Status(RunInfo run, RunProgress? progress, DateTimeOffset now)
    {
        if (run.Status != RunStatus.Running)
        {
            return Format.Status(run.Status);
        }
        if (progress is not null && now - progress.UpdatedAt > LiveSection.Stalled)
        {
            return "<span class=\"bad\" title=\"its process has written no progress for a while: killed? afs eval --resume continues it\">stalled</span>";
        }
        var share = run.TaskCount == 0 ? 0 : run.ResultCount / (double)run.TaskCount;
        return $"<span class=\"running\">running</span> <span class=\"muted\">{Format.Percent(share)}</span>";
    }

    private static void Filters(StringBuilder html, Query query, IReadOnlyList<string> environments, IReadOnlyList<string> models)
    {
        html.Append(Format.Inv, $"""
            <form class="filters card" id="filters" action="/" method="get" role="search">
            <label>search <input type="search" name="q" value="{Html.Encode(query.Search ?? "")}" placeholder="id, label, image, digest, kwargs"></label>
            """);
        Select(html, "environment", query.Environment, environments);
        Select(html, "model", query.Model, models);
        Select(html, "status", query.Status is { } s ? StatusName(s) : null, ["running", "completed", "interrupted"]);
        html.Append(Format.Inv, $"""
            <label>from <input type="date" name="from" value="{query.From?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}"></label>
            <label>to <input type="date" name="to" value="{query.To?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}"></label>
            <button type="submit">Filter</button>{(query.Filtered ? " <a href=\"/\" id=\"clear\">clear</a>" : "")}</form>
            """);
    }

    private static void Select(StringBuilder html, string name, string? chosen, IReadOnlyList<string> values)
    {
        html.Append(Format.Inv, $"<label>{name} <select name=\"{name}\"><option value=\"\">any</option>");
        foreach (var value in chosen is not null && !values.Contains(chosen) ? [.. values, chosen] : values)
        {
            html.Append(Format.Inv, $"<option{(value == chosen ? " selected" : "")}>{Html.Encode(value)}</option>");
        }
        html.Append("</select></label>");
    }

    private static string StatusName(RunStatus status) => status switch
    {
        RunStatus.Completed => "completed",
        RunStatus.Interrupted => "interrupted",
        _ => "running",
    };
}
