using System.CommandLine;
using System.Globalization;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Evaluation;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Jobs;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs validate DIR</c>: the miner's check before publishing, the library's <see cref="ValidationService"/>: builds
/// the directory, starts it against the offline baseline (or <c>--base-url</c>), calls the method twice per task and
/// compares; prints each task's two call times and exits 1 listing what differed. <c>--output DIR</c> writes the
/// rollouts as the original does.
/// </summary>
internal sealed class ValidateCommand : AfsCommand
{
    private readonly Argument<string> _dir = new("dir") { Description = "the environment directory (or an image already built)" };
    private readonly Option<int> _count = new("--tasks") { Description = "tasks to check: 1..N", DefaultValueFactory = _ => 5 };
    private readonly Option<string> _method = new("--method") { Description = "the method that scores a task", DefaultValueFactory = _ => "evaluate" };
    private readonly Option<string> _range = new("--score-range") { Description = "the documented range of score, MIN,MAX", DefaultValueFactory = _ => "0,1" };
    private readonly Option<double?> _timeout = Seconds.Option("--timeout", "seconds each call may take", 120);
    private readonly Option<string?> _output = new("--output") { Description = "directory that gets the rollouts: test_taskNNNNN.json per task and summary.json (the original's validate --output)" };
    private readonly ModelSide _modelSide = new();

    public ValidateCommand()
        : base("validate", "Check an environment before publishing: deterministic challenges and scores, distinct tasks, results of the documented shape.")
    {
        Arguments.Add(_dir);
        Options.Add(_count);
        Options.Add(_method);
        Options.Add(_range);
        Options.Add(_timeout);
        Options.Add(_output);
        _modelSide.AddTo(this);
    }

    protected override string CancelledMessage(CommandContext context) => "cancelled; the environment's containers are removed";

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var count = context.Get(_count);
        if (count is < 1 or > 10_000)
        {
            throw new UsageException($"--tasks {count}: give how many tasks to check, 1 to 10000");
        }
        var range = context.Get(_range)!.Split(',');
        if (range.Length != 2 || !double.TryParse(range[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var min)
            || !double.TryParse(range[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var max) || min > max)
        {
            throw new UsageException($"--score-range '{context.Get(_range)}' is not MIN,MAX; give e.g. 0,1");
        }
        var model = _modelSide.Endpoint(context);
        var target = Target.Parse(context.Get(_dir)!);
        if (target.Kind == TargetKind.Url)
        {
            throw new UsageException("afs validate builds and starts the environment itself; give its directory");
        }
        if (context.Get(_output) is { } output && File.Exists(output))
        {
            throw new UsageException($"--output {output} is a file; give a directory for the rollouts");
        }
        await Engines.RequireReachableAsync(context.Engines[0], cancellationToken);
        var image = target.Kind == TargetKind.Directory ? await Targets.BuildAsync(target.Value, context, cancellationToken) : target.Value;
        await using var client = AffinetesClient.Create(context.LoggerFactory);
        var service = new ValidationService(client, new EvaluationServiceOptions { LocalModel = new OfflineModel(context.LoggerFactory) }, context.LoggerFactory);
        ValidationReport report;
        try
        {
            report = await service.ValidateAsync(new ValidationJob
            {
                Environment = new EnvironmentOptions { Image = image, Docker = new DockerOptions { Hosts = [context.Engines[0]], SshConfigFile = Engines.SshConfigFile }, Cleanup = true },
                TaskIds = [.. Enumerable.Range(1, count).Select(i => (long)i)],
                Method = context.Get(_method)!,
                MinScore = min,
                MaxScore = max,
                CallTimeout = Seconds.Value(context, _timeout)!.Value,
                Model = model,
                LocalModelPort = context.Get(_modelSide.BaselinePort),
                RolloutsDirectory = context.Get(_output),
            }, new Reporter<string>(context.Console.Note), cancellationToken);
        }
        catch (MethodNotFoundException e)
        {
            throw new UsageException($"{e.Message} (--method NAME)");
        }
        if (!report.HadChallenges && report.Ok)
        {
            context.Console.Note("no challenge to compare: the environment has no generate(task_id) and its results have no prompt; only shapes and scores were checked");
        }
        var problems = report.Problems;
        if (context.Json)
        {
            context.Console.WriteJson(new
            {
                image,
                method = report.Method,
                ok = report.Ok,
                tasks = report.Tasks.Select(r => new { task_id = r.TaskId, first_ms = Math.Round(r.First.TotalMilliseconds, 1), second_ms = Math.Round(r.Second.TotalMilliseconds, 1), problems = r.Problems }),
                problems,
                output = context.Get(_output),
            });
        }
        else
        {
            var table = context.Console.Table("TASK", "FIRST", "SECOND", "CHECK");
            foreach (var r in report.Tasks)
            {
                table.AddTextRow(r.TaskId.ToString(CultureInfo.InvariantCulture), ResultViews.Ms(r.First), ResultViews.Ms(r.Second), r.Problems.Count == 0 ? "ok" : string.Join("; ", r.Problems));
            }
            context.Console.Write(table);
            context.Console.Line(report.Ok
                ? $"valid: {AfsConsole.Plural(count, "task")} deterministic{(report.HadChallenges ? ", distinct challenges" : "")}, results of the documented shape"
                : $"NOT valid: {AfsConsole.Plural(problems.Count, "problem")} (above)");
            if (context.Get(_output) is { } written)
            {
                context.Console.Line($"rollouts in {written}/ (test_task00001.json ..., summary.json)");
            }
        }
        return report.Ok ? ExitCodes.Ok : ExitCodes.Failure;
    }
}
