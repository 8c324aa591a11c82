using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.View;

/// <summary>
/// <c>afs view --export DIR</c>: the pages as files to share: the runs (<c>index.html</c>), each run with its task table
/// in task order (<c>runs/ID.html</c>, <c>runs/ID/page-N.html</c>), each task (<c>runs/ID/tasks/N.html</c>), the runs
/// side by side (<c>compare.html</c>), each run's CSV and JSON, and the style sheet (<c>assets/view.css</c>). Every
/// link is relative, so the folder opens from disk (<c>file://</c>) or from any web server; no script is needed.
/// </summary>
internal sealed class StaticExport(ResultStore store, TimeProvider time)
{
    private readonly ViewPages _pages = new(store, time);
    private readonly ResultQueries _queries = ResultQueries.Of(store);

    /// <summary>What was written: runs, task pages and files in all.</summary>
    public sealed record Written(int Runs, int Tasks, int Files);

    /// <summary>Writes the runs <paramref name="runIds"/> (none: every run) into <paramref name="directory"/>, telling <paramref name="progress"/> of each run written.</summary>
    public async Task<Written> WriteAsync(string directory, IReadOnlyList<string> runIds, Action<RunInfo>? progress, CancellationToken cancellationToken)
    {
        var runs = await _queries.ListRunsAsync(new RunFilter { Ids = runIds.Count == 0 ? null : runIds, Limit = -1 }, cancellationToken);
        if (runIds.FirstOrDefault(id => runs.All(r => r.Id != id)) is { } missing)
        {
            throw new ResultStoreException($"the results store {store.Path} has no run '{missing}'");
        }
        Directory.CreateDirectory(Path.Combine(directory, "assets"));
        var files = 0;
        await File.WriteAllBytesAsync(Path.Combine(directory, "assets", "view.css"), ViewAssets.Style.Bytes, cancellationToken);
        files++;
        var index = await _pages.RunsAsync(new ViewLinks.Export(0), RunsPage.Query.Parse(null, null, null, null, null, null, null) with
        {
            PageSize = int.MaxValue,
            Ids = runIds.Count == 0 ? null : runIds,
        }, cancellationToken);
        await WriteAsync(Path.Combine(directory, "index.html"), index, cancellationToken);
        files++;
        if (runs.Count >= 2)
        {
            var compare = await _pages.CompareAsync(new ViewLinks.Export(0), ComparePage.Query.Parse([.. runs.Select(r => r.Id)], null, null, null, null, null), cancellationToken);
            await WriteAsync(Path.Combine(directory, "compare.html"), compare, cancellationToken);
            files++;
        }
        var tasks = 0;
        foreach (var run in runs)
        {
            var name = ViewLinks.Export.FileName(run.Id);
            var runDirectory = Path.Combine(directory, "runs", name);
            Directory.CreateDirectory(Path.Combine(runDirectory, "tasks"));
            var pageCount = Math.Max(1, (run.ResultCount + RunPage.PageSize - 1) / RunPage.PageSize);
            for (var page = 1; page <= pageCount; page++)
            {
                var rendered = await _pages.RunAsync(new ViewLinks.Export(page == 1 ? 1 : 2), run.Id, RunPage.TaskQuery.Default with { Page = page }, cancellationToken);
                await WriteAsync(page == 1 ? Path.Combine(directory, "runs", name + ".html") : Path.Combine(runDirectory, $"page-{page}.html"), rendered, cancellationToken);
                files++;
            }
            var results = await store.GetResultsAsync(run.Id, cancellationToken);
            await using (var csv = File.Create(Path.Combine(directory, "runs", name + ".csv")))
            {
                await RunExport.WriteCsvAsync(csv, results, cancellationToken);
            }
            await using (var json = File.Create(Path.Combine(directory, "runs", name + ".json")))
            {
                await RunExport.WriteJsonAsync(json, run, results, cancellationToken);
            }
            files += 2;
            var taskLinks = new ViewLinks.Export(3);
            foreach (var result in results)
            {
                var page = await _pages.TaskAsync(taskLinks, run.Id, result.TaskId, cancellationToken);
                await WriteAsync(Path.Combine(runDirectory, "tasks", $"{result.TaskId}.html"), page, cancellationToken);
                tasks++;
                files++;
            }
            progress?.Invoke(run);
        }
        return new Written(runs.Count, tasks, files);
    }

    private static Task WriteAsync(string path, ViewPages.Page page, CancellationToken cancellationToken) => File.WriteAllTextAsync(path, page.Html, cancellationToken);
}
