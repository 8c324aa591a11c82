using System.CommandLine;
using System.Globalization;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Evaluation;
using Affinetes.Afs.View;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs show RUN [--task N]</c>: one stored run's summary and a row per task, or one task with its transcript.</summary>
internal sealed class ShowCommand : AfsCommand
{
    private readonly Argument<string> _run = new("run") { Description = "the run's id (afs runs lists them)" };
    private readonly Option<string?> _store = StoreOption.Create();
    private readonly Option<long?> _task = new("--task") { Description = "print one task: its result, failed attempts, usage and its conversation with the model" };

    public ShowCommand()
        : base("show", "Print one stored run: its summary and each task's score, error, attempts and duration; or one task with --task.")
    {
        Arguments.Add(_run);
        Options.Add(_store);
        Options.Add(_task);
    }

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var id = context.Get(_run)!;
        await using var store = await ResultStore.OpenAsync(StoreOption.Existing(context, _store), context.LoggerFactory, cancellationToken);
        var run = await store.GetRunAsync(id, cancellationToken)
            ?? throw new UsageException($"the results store {store.Path} has no run '{id}'; afs runs{StoreOption.Flag(context, _store)} lists the runs it has");
        if (context.Get(_task) is { } taskId)
        {
            var result = await store.GetResultAsync(id, taskId, cancellationToken)
                ?? throw new UsageException($"run {id} has no result for task {taskId}{(run.ResultCount < run.TaskCount ? " yet" : "")}; afs show {id}{StoreOption.Flag(context, _store)} lists its tasks");
            if (context.Json)
            {
                context.Console.WriteJson(TaskTextReport.Json(result, ResultViews.Json(id, result)));
            }
            else
            {
                TaskTextReport.Write(context.Console, run, result);
            }
            return ExitCodes.Ok;
        }
        var results = await store.GetResultsAsync(id, cancellationToken);
        var summary = EvaluationSummary.Of([.. results]);
        var console = context.Console;
        if (context.Json)
        {
            console.WriteJson(new { run = ResultViews.Json(run), summary = ResultViews.Json(summary), tasks = results.Select(r => ResultViews.Json(id, r)) });
            return ExitCodes.Ok;
        }
        console.Line($"{run.Environment ?? "-"}  {run.Method}  kwargs {run.Kwargs}  created {run.CreatedAt:yyyy-MM-dd HH:mm:ss}Z  digest {run.ImageDigest ?? "-"}");
        ResultViews.WriteSummary(console, id, run, summary, results);
        console.Line();
        var table = console.Table("TASK", "SCORE", "SUCCESS", "ERROR", "ATTEMPTS", "DURATION", "CACHED");
        foreach (var r in results)
        {
            table.AddTextRow(r.TaskId.ToString(CultureInfo.InvariantCulture), ResultViews.F(r.Score), r.Success ? "yes" : "no",
                r.Completed ? "" : $"{TaskErrorKinds.Name(r.ErrorKind)}: {ResultViews.Shorten(ErrorReport.OneLine(r.Error ?? ""), 80)}",
                r.Attempts.ToString(CultureInfo.InvariantCulture), ResultViews.Ms(r.Duration), r.FromCache ? "yes" : "");
        }
        console.Write(table);
        if (run.ResultCount < run.TaskCount)
        {
            console.Line($"{run.TaskCount - run.ResultCount} tasks have no result yet; afs eval --resume {id}{StoreOption.Flag(context, _store)} runs them");
        }
        return ExitCodes.Ok;
    }
}
