using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Evaluation;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs validate DIR</c>: the miner's check before publishing. Builds and starts the environment, then for each
/// task calls the method twice with the same arguments and compares: the challenge (what <c>generate</c> returns
/// when the environment has one, else the result's <c>prompt</c>) must be equal, and with the deterministic offline
/// baseline so must the score; different tasks must give different challenges; each result must be an object with
/// a numeric <c>score</c> in the documented range and a bool <c>success</c>. Exits 1 saying what differed.
/// </summary>
internal sealed class ValidateCommand : AfsCommand
{
    private readonly Argument<string> _dir = new("dir") { Description = "the environment directory (or an image already built)" };
    private readonly Option<int> _count = new("--tasks") { Description = "tasks to check: 1..N", DefaultValueFactory = _ => 5 };
    private readonly Option<string> _method = new("--method") { Description = "the method that scores a task", DefaultValueFactory = _ => "evaluate" };
    private readonly Option<string> _range = new("--score-range") { Description = "the documented range of score, MIN,MAX", DefaultValueFactory = _ => "0,1" };
    private readonly Option<double?> _timeout = Seconds.Option("--timeout", "seconds each call may take", 120);
    private readonly ModelSide _modelSide = new();

    public ValidateCommand()
        : base("validate", "Check an environment before publishing: deterministic challenges and scores, distinct tasks, results of the documented shape.")
    {
        Arguments.Add(_dir);
        Options.Add(_count);
        Options.Add(_method);
        Options.Add(_range);
        Options.Add(_timeout);
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
        var useBaseline = _modelSide.UsesBaseline(context);
        var console = context.Console;
        var target = Target.Parse(context.Get(_dir)!);
        if (target.Kind == TargetKind.Url)
        {
            throw new UsageException("afs validate builds and starts the environment itself; give its directory");
        }
        await Engines.RequireReachableAsync(context.Engines[0], cancellationToken);
        var image = target.Kind == TargetKind.Directory ? await Targets.BuildAsync(target.Value, context, cancellationToken) : target.Value;
        await using var baseline = useBaseline
            ? await OfflineModel.StartAsync(context.Get(_modelSide.BaselinePort), anyPortIfTaken: true, context.LoggerFactory, console.Note, cancellationToken)
            : null;
        var envVars = new Dictionary<string, string>(StringComparer.Ordinal);
        _modelSide.AddApiKey(context, envVars, baseline is not null);
        console.Note($"starting {image} and waiting until ready");
        await using var environment = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions
        {
            Image = image,
            Hosts = [context.Engines[0]],
            SshConfigFile = Engines.SshConfigFile,
            EnvVars = envVars,
            HostNetwork = baseline is not null,
            Cleanup = true,
            LoggerFactory = context.LoggerFactory,
        }, cancellationToken);
        var methods = await environment.ListMethodsAsync(cancellationToken);
        var methodName = context.Get(_method)!;
        var method = methods.FirstOrDefault(m => m.Name == methodName)
            ?? throw new UsageException($"the environment has no method '{methodName}'; it has {string.Join(", ", methods.Select(m => m.Name))} (--method NAME)");
        var generate = methods.FirstOrDefault(m => m.Name == "generate" && m.Parameters.Any(p => p.Name == "task_id"));
        var (kwargs, _) = _modelSide.Kwargs(context, method, baseline);
        var timeout = Seconds.Value(context, _timeout)!.Value;
        var scoreMustRepeat = baseline is not null;
        console.Note($"calling {methodName} twice per task for tasks 1-{count}" + (generate is null ? "" : ", and generate twice") +
            (scoreMustRepeat ? "; the model side is the deterministic offline baseline, so scores must repeat too" : "; with a real model only the challenge must repeat"));

        var problems = new List<string>();
        var rows = new List<TaskCheck>();
        var challenges = new Dictionary<string, long>(StringComparer.Ordinal);
        for (long task = 1; task <= count; task++)
        {
            var args = new Dictionary<string, object?>(kwargs) { ["task_id"] = task };
            var (first, firstTime) = await TimedAsync(environment, methodName, args, timeout, cancellationToken);
            var (second, secondTime) = await TimedAsync(environment, methodName, args, timeout, cancellationToken);
            var check = new TaskCheck(task, firstTime, secondTime, []);
            if (first.Error is not null || second.Error is not null)
            {
                check.Problems.Add($"{methodName} failed: {first.Error ?? second.Error}");
                rows.Add(check);
                continue;
            }
            check.Problems.AddRange(Shape(first.Value, min, max));
            var (s1, ok1) = (Number(first.Value, "score"), Bool(first.Value, "success"));
            var (s2, ok2) = (Number(second.Value, "score"), Bool(second.Value, "success"));
            if (scoreMustRepeat && (s1 != s2 || ok1 != ok2))
            {
                check.Problems.Add($"the same call scored differently: score {s1?.ToString(CultureInfo.InvariantCulture) ?? "-"} then {s2?.ToString(CultureInfo.InvariantCulture) ?? "-"}, success {ok1} then {ok2}");
            }
            string? challenge;
            if (generate is not null)
            {
                var g = new Dictionary<string, object?> { ["task_id"] = task };
                var (g1, _) = await TimedAsync(environment, "generate", g, timeout, cancellationToken);
                var (g2, _) = await TimedAsync(environment, "generate", g, timeout, cancellationToken);
                challenge = g1.Error is null ? g1.Value.GetRawText() : null;
                if (g1.Error is not null || g2.Error is not null)
                {
                    check.Problems.Add($"generate failed: {g1.Error ?? g2.Error}");
                }
                else if (challenge != g2.Value.GetRawText())
                {
                    check.Problems.Add($"generate gave two different challenges for the same task: {ResultViews.Shorten(challenge!, 120)} then {ResultViews.Shorten(g2.Value.GetRawText(), 120)}");
                }
            }
            else
            {
                challenge = Text(first.Value, "prompt");
                if (challenge is not null && challenge != Text(second.Value, "prompt"))
                {
                    check.Problems.Add($"the same task gave two different prompts: {ResultViews.Shorten(challenge, 120)} then {ResultViews.Shorten(Text(second.Value, "prompt") ?? "", 120)}");
                }
            }
            if (challenge is not null)
            {
                if (challenges.TryGetValue(challenge, out var earlier))
                {
                    check.Problems.Add($"task {task} has the same challenge as task {earlier}");
                }
                else
                {
                    challenges[challenge] = task;
                }
            }
            rows.Add(check);
        }
        if (challenges.Count == 0 && rows.All(r => r.Problems.Count == 0))
        {
            console.Note("no challenge to compare: the environment has no generate(task_id) and its results have no prompt; only shapes and scores were checked");
        }
        problems.AddRange(rows.SelectMany(r => r.Problems.Select(p => $"task {r.Task}: {p}")));

        if (context.Json)
        {
            console.WriteJson(new
            {
                image,
                method = methodName,
                ok = problems.Count == 0,
                tasks = rows.Select(r => new { task_id = r.Task, first_ms = Math.Round(r.First.TotalMilliseconds, 1), second_ms = Math.Round(r.Second.TotalMilliseconds, 1), problems = r.Problems }),
                problems,
            });
        }
        else
        {
            var table = console.Table("TASK", "FIRST", "SECOND", "CHECK");
            foreach (var r in rows)
            {
                table.AddTextRow(r.Task.ToString(CultureInfo.InvariantCulture), ResultViews.Ms(r.First), ResultViews.Ms(r.Second), r.Problems.Count == 0 ? "ok" : string.Join("; ", r.Problems));
            }
            console.Write(table);
            console.Line(problems.Count == 0
                ? $"valid: {AfsConsole.Plural(count, "task")} deterministic{(challenges.Count > 0 ? ", distinct challenges" : "")}, results of the documented shape"
                : $"NOT valid: {AfsConsole.Plural(problems.Count, "problem")} (above)");
        }
        return problems.Count == 0 ? ExitCodes.Ok : ExitCodes.Failure;
    }

    private static IEnumerable<string> Shape(JsonElement result, double min, double max)
    {
        if (result.ValueKind != JsonValueKind.Object)
        {
            yield return $"the result is a {result.ValueKind.ToString().ToLowerInvariant()}, not an object with score and success";
            yield break;
        }
        if (Number(result, "score") is not { } score)
        {
            yield return "the result has no numeric score";
        }
        else if (score < min || score > max)
        {
            yield return $"score {score.ToString(CultureInfo.InvariantCulture)} is outside the documented range {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}";
        }
        if (Bool(result, "success") is null)
        {
            yield return "the result has no bool success";
        }
    }

    private static double? Number(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static bool? Bool(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    private static string? Text(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static async Task<((JsonElement Value, string? Error), TimeSpan)> TimedAsync(IEnvironment environment, string method, Dictionary<string, object?> args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var value = await environment.CallAsync(method, null, args, timeout, cancellationToken);
            return ((value, null), Stopwatch.GetElapsedTime(started));
        }
        catch (AffinetesException e)
        {
            return ((default, ErrorReport.OneLine(ResultViews.Shorten(e.Message, 300))), Stopwatch.GetElapsedTime(started));
        }
    }

    private sealed record TaskCheck(long Task, TimeSpan First, TimeSpan Second, List<string> Problems);
}
