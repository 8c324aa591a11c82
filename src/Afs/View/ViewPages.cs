using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.View;

/// <summary>
/// Every page of the viewer from the results store, for the server and the static export alike: it reads through
/// the library (figures from the covering index, task tables a page at a time), renders the page and wraps it in the
/// layout. A page that cannot be found is a 404 page saying what is missing.
/// </summary>
internal sealed class ViewPages(ResultStore store, TimeProvider time)
{
    private readonly ResultQueries _queries = ResultQueries.Of(store);

    /// <summary>A rendered page: its status code and HTML.</summary>
    public readonly record struct Page(int Status, string Html);

    public string StorePath => store.Path;

    public async Task<Page> RunsAsync(ViewLinks links, RunsPage.Query query, CancellationToken cancellationToken)
    {
        var runs = await _queries.ListRunsAsync(query.Filter, cancellationToken);
        var progress = new Dictionary<string, RunProgress>(StringComparer.Ordinal);
        foreach (var running in runs.Where(r => r.Status == RunStatus.Running))
        {
            if (await _queries.ProgressAsync(running.Id, cancellationToken) is { } p)
            {
                progress[running.Id] = p;
            }
        }
        var (environments, models) = links.Served ? await _queries.ChoicesAsync(cancellationToken) : ([], []);
        return Ok(links, "Runs", RunsPage.Render(links, runs, progress, query, environments, models, time.GetUtcNow()));
    }

    public async Task<Page> RunAsync(ViewLinks links, string runId, RunPage.TaskQuery query, CancellationToken cancellationToken)
    {
        if (await store.GetRunAsync(runId, cancellationToken) is not { } run)
        {
            return NotFound(links, $"the store has no run '{runId}'");
        }
        var (live, summary) = await LiveAsync(run, cancellationToken);
        var (rows, count) = await _queries.TasksAsync(runId, query.Order, cancellationToken);
        if (rows.Count == 0 && count > 0)
        {
            // A page past the last (a typed URL, or fewer failed tasks than when the link was made): the last page.
            query = query with { Page = (count + RunPage.PageSize - 1) / RunPage.PageSize };
            (rows, count) = await _queries.TasksAsync(runId, query.Order, cancellationToken);
        }
        return Ok(links, "Run " + run.Id, RunPage.Render(links, run, live, summary, rows, count, query), reload: run.Status == RunStatus.Running,
            new Layout.Crumb("runs", links.Home), new Layout.Crumb(run.Id, null));
    }

    /// <summary>The live section of a run as it is now, and whether the run is still running; null when there is no such run.</summary>
    public async Task<(string Html, bool Running)?> LiveSectionAsync(string runId, CancellationToken cancellationToken) =>
        await store.GetRunAsync(runId, cancellationToken) is { } run ? ((await LiveAsync(run, cancellationToken)).Html, run.Status == RunStatus.Running) : null;

    private async Task<(string Html, ValidatorClient.Evaluation.EvaluationSummary Summary)> LiveAsync(RunInfo run, CancellationToken cancellationToken)
    {
        var figures = await _queries.FiguresAsync(run.Id, cancellationToken);
        var summary = LiveSection.Summarize(figures);
        if (summary.Failures.Count > 0)
        {
            summary = LiveSection.Summarize(figures, await _queries.ErrorsAsync(run.Id, [.. summary.Failures.Select(f => f.ExampleTaskId)], cancellationToken));
        }
        var now = time.GetUtcNow();
        var progress = run.Status == RunStatus.Running ? await _queries.ProgressAsync(run.Id, cancellationToken) : null;
        var recent = run.Status == RunStatus.Running && progress is null ? await _queries.StartedSinceAsync(run.Id, now.AddMinutes(-1), cancellationToken) : 0;
        return (LiveSection.Render(run, figures, summary, progress, recent, now), summary);
    }

    public async Task<Page> TaskAsync(ViewLinks links, string runId, long taskId, CancellationToken cancellationToken)
    {
        if (await store.GetRunAsync(runId, cancellationToken) is not { } run)
        {
            return NotFound(links, $"the store has no run '{runId}'");
        }
        if (await store.GetResultAsync(runId, taskId, cancellationToken) is not { } result)
        {
            return NotFound(links, $"run '{runId}' has no result for task {taskId}{(run.Status == RunStatus.Running ? " yet" : "")}");
        }
        var (previous, next) = await _queries.NeighboursAsync(runId, taskId, cancellationToken);
        return Ok(links, $"Task {taskId}", TaskPage.Render(links, run, result, previous, next), reload: false,
            new Layout.Crumb("runs", links.Home), new Layout.Crumb(run.Id, links.Run(run.Id)), new Layout.Crumb($"task {taskId}", null));
    }

    /// <summary>The runs of <paramref name="query"/> side by side (none named: the newest <see cref="RunsPage.PageSize"/>), two of them task by task.</summary>
    public async Task<Page> CompareAsync(ViewLinks links, ComparePage.Query query, CancellationToken cancellationToken)
    {
        var runs = new List<RunInfo>();
        if (query.RunIds.Count == 0)
        {
            runs.AddRange(await _queries.ListRunsAsync(new RunFilter { Limit = RunsPage.PageSize }, cancellationToken));
        }
        foreach (var id in query.RunIds)
        {
            if (await store.GetRunAsync(id, cancellationToken) is not { } run)
            {
                return NotFound(links, $"the store has no run '{id}'");
            }
            runs.Add(run);
        }
        var sides = new List<ComparePage.Side>(runs.Count);
        // The oldest first: B − A reads as what changed since.
        foreach (var (run, i) in runs.OrderBy(r => r.CreatedAt).ThenBy(r => r.Id, StringComparer.Ordinal).Select((r, i) => (r, i)))
        {
            sides.Add(new ComparePage.Side(ComparePage.Letter(i), run, LiveSection.Summarize(await _queries.FiguresAsync(run.Id, cancellationToken))));
        }
        (ComparePage.Side, ComparePage.Side, ComparisonPage)? pair = null;
        if (sides.Count >= 2)
        {
            var a = sides.FirstOrDefault(s => s.Run.Id == query.A) ?? sides[0];
            var b = sides.FirstOrDefault(s => s.Run.Id == query.B && s != a) ?? sides.First(s => s != a);
            pair = (a, b, await _queries.CompareAsync(a.Run.Id, b.Run.Id, query.Sort, query.Descending, (query.Page - 1) * ComparePage.PageSize, ComparePage.PageSize, cancellationToken));
        }
        return Ok(links, "Compare", ComparePage.Render(links, sides, query, pair), reload: false, new Layout.Crumb("runs", links.Home), new Layout.Crumb("compare", null));
    }

    public Page NotFound(ViewLinks links, string message) =>
        new(404, Layout.Page(links, "Not found", store.Path, Layout.NotFound(links, message), false, new Layout.Crumb("runs", links.Home)));

    public Page Failure(ViewLinks links, string message) =>
        new(500, Layout.Page(links, "Error", store.Path, Layout.Failure(links, message), false, new Layout.Crumb("runs", links.Home)));

    private Page Ok(ViewLinks links, string title, string body, bool reload = false, params Layout.Crumb[] crumbs) =>
        new(200, Layout.Page(links, title, store.Path, body, reload, crumbs));
}
