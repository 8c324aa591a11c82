using System.CommandLine;
using System.Globalization;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs runs</c>: the runs in the results store, newest first.</summary>
internal sealed class RunsCommand : AfsCommand
{
    private readonly Option<string?> _store = StoreOption.Create();
    private readonly Option<int> _limit = new("--limit", "-n") { Description = "runs to list at most", DefaultValueFactory = _ => 50 };

    public RunsCommand()
        : base("runs", "List the evaluation runs in the results store, newest first.")
    {
        Options.Add(_store);
        Options.Add(_limit);
    }

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        if (context.Get(_limit) < 1)
        {
            throw new UsageException($"--limit {context.Get(_limit)}: give 1 or more");
        }
        var console = context.Console;
        var path = StoreOption.PathOf(context, _store);
        if (!File.Exists(path))
        {
            // Nothing to list, and nothing to create: a mistyped --store makes no empty store.
            if (context.Json)
            {
                console.WriteJson(Array.Empty<object>());
            }
            else
            {
                console.Line($"no runs: there is no results store at {path} yet; afs eval makes one");
            }
            return ExitCodes.Ok;
        }
        await using var store = await ResultStore.OpenAsync(path, context.LoggerFactory, cancellationToken);
        var runs = await store.ListRunsAsync(context.Get(_limit), cancellationToken);
        if (context.Json)
        {
            console.WriteJson(runs.Select(ResultViews.Json));
            return ExitCodes.Ok;
        }
        if (runs.Count == 0)
        {
            console.Line($"no runs in {store.Path} yet; afs eval makes one");
            return ExitCodes.Ok;
        }
        var table = console.Table("RUN", "CREATED", "STATUS", "ENVIRONMENT", "METHOD", "RESULTS", "FAILED", "CACHED", "MEAN", "LABEL");
        foreach (var run in runs)
        {
            table.AddTextRow(run.Id, AfsConsole.Ago(run.CreatedAt), ResultViews.Status(run.Status), run.Environment ?? "-", run.Method,
                $"{run.ResultCount}/{run.TaskCount}", run.FailedCount.ToString(CultureInfo.InvariantCulture), run.CacheHits.ToString(CultureInfo.InvariantCulture),
                run.MeanScore is { } mean ? ResultViews.F(mean) : "-", run.Label ?? "");
        }
        console.Write(table);
        return ExitCodes.Ok;
    }
}
