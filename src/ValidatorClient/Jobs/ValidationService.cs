using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Affinetes.ValidatorClient.Environments;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Affinetes.ValidatorClient.Jobs;

/// <summary>
/// The miner's check before publishing: starts the environment, then for each task calls the method twice with
/// the same arguments and compares. The challenge (what <c>generate(task_id)</c> returns when the environment has
/// one, else the result's <c>prompt</c>) must repeat, and with a deterministic local model the score too; different
/// tasks must give different challenges; each result must be an object with a numeric <c>score</c> in the
/// documented range and a bool <c>success</c>. The rollouts (each task's results) can be written to a directory,
/// as the original's <c>validate --output</c> does. <c>afs validate</c> is this.
/// </summary>
/// <param name="client">Starts the environment (its caps and its LLM gateway apply); it logs where the client does.</param>
/// <param name="options">The local model.</param>
/// <param name="loggerFactory">Where the service logs (a key passed into a deployment); nowhere when null.</param>
public sealed class ValidationService(IAffinetesClient client, EvaluationServiceOptions? options = null, ILoggerFactory? loggerFactory = null)
{
    /// <summary>Validates <paramref name="job"/>; <paramref name="notes"/> hears what happens. Problems are the report's, not exceptions.</summary>
    public async Task<ValidationReport> ValidateAsync(ValidationJob job, IProgress<string>? notes = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        job.Validate();
        await using var local = job.Model is null
            ? await (options?.LocalModel ?? throw new JobOptionsException(["the job names no model and the service has no local one; give the job a model endpoint"]))
                .StartAsync(job.LocalModelPort, anyPortIfTaken: true, notes, cancellationToken)
            : null;
        var model = job.Model ?? local!.Endpoint;
        var wiring = new EvaluationJob { Environment = job.Environment, Request = new() { TaskIds = [1] }, Model = model };
        var environmentOptions = ModelWiring.Wire(job.Environment, model, wiring, notes, loggerFactory ?? NullLoggerFactory.Instance);
        notes?.Report($"starting {environmentOptions.Image} and waiting until ready");
        await using var environment = await client.LoadEnvAsync(environmentOptions, cancellationToken);
        var methods = await environment.ListMethodsAsync(cancellationToken);
        var method = methods.FirstOrDefault(m => m.Name == job.Method)
            ?? throw new MethodNotFoundException(job.Method, $"Method not found: {job.Method}; it has {string.Join(", ", methods.Select(m => m.Name))}");
        var generate = methods.FirstOrDefault(m => m.Name == "generate" && m.Parameters.Any(p => p.Name == "task_id"));
        var (kwargs, _) = ModelWiring.Kwargs(new Dictionary<string, object?>(), method, model, ModelWiring.GatewayBaseUrl(environmentOptions));
        var scoresMustRepeat = model.LocalOnly;
        notes?.Report($"calling {job.Method} twice per task for tasks {job.TaskIds[0]}-{job.TaskIds[^1]}" + (generate is null ? "" : ", and generate twice") +
            (scoresMustRepeat ? "; the model side is the deterministic local model, so scores must repeat too" : "; with a real model only the challenge must repeat"));

        var checks = new List<TaskCheck>();
        var rollouts = new List<JsonElement>();
        var challenges = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var task in job.TaskIds)
        {
            var args = new Dictionary<string, object?>(kwargs) { ["task_id"] = task };
            var (first, firstTime) = await TimedAsync(environment, job.Method, args, job.CallTimeout, cancellationToken);
            var (second, secondTime) = await TimedAsync(environment, job.Method, args, job.CallTimeout, cancellationToken);
            var problems = new List<string>();
            if (first.Error is not null || second.Error is not null)
            {
                problems.Add($"{job.Method} failed: {first.Error ?? second.Error}");
                checks.Add(new TaskCheck(task, firstTime, secondTime, problems));
                rollouts.Add(Rollout(task, first, second, problems));
                continue;
            }
            problems.AddRange(Shape(first.Value, job.MinScore, job.MaxScore));
            var (s1, ok1) = (Number(first.Value, "score"), Bool(first.Value, "success"));
            var (s2, ok2) = (Number(second.Value, "score"), Bool(second.Value, "success"));
            if (scoresMustRepeat && (s1 != s2 || ok1 != ok2))
            {
                problems.Add($"the same call scored differently: score {s1?.ToString(CultureInfo.InvariantCulture) ?? "-"} then {s2?.ToString(CultureInfo.InvariantCulture) ?? "-"}, success {ok1} then {ok2}");
            }
            string? challenge;
            if (generate is not null)
            {
                var g = new Dictionary<string, object?> { ["task_id"] = task };
                var (g1, _) = await TimedAsync(environment, "generate", g, job.CallTimeout, cancellationToken);
                var (g2, _) = await TimedAsync(environment, "generate", g, job.CallTimeout, cancellationToken);
                challenge = g1.Error is null ? g1.Value.GetRawText() : null;
                if (g1.Error is not null || g2.Error is not null)
                {
                    problems.Add($"generate failed: {g1.Error ?? g2.Error}");
                }
                else if (challenge != g2.Value.GetRawText())
                {
                    problems.Add($"generate gave two different challenges for the same task: {Shorten(challenge!, 120)} then {Shorten(g2.Value.GetRawText(), 120)}");
                }
            }
            else
            {
                challenge = Text(first.Value, "prompt");
                if (challenge is not null && challenge != Text(second.Value, "prompt"))
                {
                    problems.Add($"the same task gave two different prompts: {Shorten(challenge, 120)} then {Shorten(Text(second.Value, "prompt") ?? "", 120)}");
                }
            }
            if (challenge is not null)
            {
                if (challenges.TryGetValue(challenge, out var earlier))
                {
                    problems.Add($"task {task} has the same challenge as task {earlier}");
                }
                else
                {
                    challenges[challenge] = task;
                }
            }
            checks.Add(new TaskCheck(task, firstTime, secondTime, problems));
            rollouts.Add(Rollout(task, first, second, problems));
        }
        var report = new ValidationReport(environmentOptions.Image!, job.Method, checks, challenges.Count > 0, scoresMustRepeat);
        if (job.RolloutsDirectory is { } directory)
        {
            await WriteRolloutsAsync(directory, job, report, rollouts, cancellationToken);
        }
        return report;
    }

    /// <summary>As the original writes them: <c>test_task00001.json</c> per task (the first result, with the second's score and this check's problems), and <c>summary.json</c>.</summary>
    private static async Task WriteRolloutsAsync(string directory, ValidationJob job, ValidationReport report, List<JsonElement> rollouts, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var indented = new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        foreach (var (check, rollout) in report.Tasks.Zip(rollouts))
        {
            await File.WriteAllTextAsync(Path.Combine(directory, $"test_task{check.TaskId.ToString("00000", CultureInfo.InvariantCulture)}.json"),
                JsonSerializer.Serialize(rollout, indented) + "\n", cancellationToken);
        }
        var successes = rollouts.Count(r => Bool(r, "success") == true);
        var summary = new
        {
            total_tests = report.Tasks.Count,
            task_id_range = new { start = job.TaskIds[0], end = job.TaskIds[^1] },
            success_count = successes,
            success_rate = report.Tasks.Count == 0 ? 0 : (double)successes / report.Tasks.Count,
            valid = report.Ok,
            problems = report.Problems,
            rollouts,
        };
        await File.WriteAllTextAsync(Path.Combine(directory, "summary.json"), JsonSerializer.Serialize(summary, indented) + "\n", cancellationToken);
    }

    private static JsonElement Rollout(long task, (JsonElement Value, string? Error) first, (JsonElement Value, string? Error) second, List<string> problems)
    {
        var rollout = first.Error is null && first.Value.ValueKind == JsonValueKind.Object
            ? System.Text.Json.Nodes.JsonNode.Parse(first.Value.GetRawText())!.AsObject()
            : new System.Text.Json.Nodes.JsonObject { ["task_id"] = task, ["success"] = false, ["error"] = first.Error ?? "the result is not an object", ["result"] = first.Error is null ? System.Text.Json.Nodes.JsonNode.Parse(first.Value.GetRawText()) : null };
        rollout["seed_consistent"] = !problems.Any(p => p.Contains("different", StringComparison.Ordinal));
        rollout["validation"] = new System.Text.Json.Nodes.JsonObject
        {
            ["second_run"] = second.Error is null
                ? new System.Text.Json.Nodes.JsonObject { ["score"] = Number(second.Value, "score"), ["success"] = Bool(second.Value, "success") }
                : new System.Text.Json.Nodes.JsonObject { ["error"] = second.Error },
            ["problems"] = new System.Text.Json.Nodes.JsonArray([.. problems.Select(p => (System.Text.Json.Nodes.JsonNode?)p)]),
        };
        return JsonSerializer.SerializeToElement(rollout);
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

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..max] + "...";

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
            var message = string.Join("; ", e.Message.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
            return ((default, Shorten(message, 300)), Stopwatch.GetElapsedTime(started));
        }
    }
}

/// <summary>What <see cref="ValidationService"/> checks: an image, the tasks, the method and the documented score range.</summary>
public sealed record ValidationJob
{
    /// <summary>The environment (its <see cref="EnvironmentOptions.Image"/>); the service adds the model side.</summary>
    public required EnvironmentOptions Environment { get; init; }

    /// <summary>The tasks to check, in order.</summary>
    public IReadOnlyList<long> TaskIds { get; init; } = [1, 2, 3, 4, 5];

    /// <summary>The method that scores a task.</summary>
    public string Method { get; init; } = "evaluate";

    /// <summary>The documented range of <c>score</c>.</summary>
    public double MinScore { get; init; }

    /// <summary>The documented range of <c>score</c>.</summary>
    public double MaxScore { get; init; } = 1;

    /// <summary>Deadline of each call.</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Where the model calls go; null: the service's local model (deterministic: scores must repeat).</summary>
    public ModelEndpoint? Model { get; init; }

    /// <summary>The local model's port.</summary>
    public int LocalModelPort { get; init; } = EvaluationJob.DefaultLocalModelPort;

    /// <summary>Where the rollouts go (<c>test_taskNNNNN.json</c> and <c>summary.json</c>); none when null.</summary>
    public string? RolloutsDirectory { get; init; }

    public void Validate()
    {
        var problems = new List<string>();
        if (TaskIds.Count is < 1 or > 10_000)
        {
            problems.Add($"{TaskIds.Count} tasks to check; give 1 to 10000");
        }
        if (MinScore > MaxScore)
        {
            problems.Add($"the score range {MinScore.ToString(CultureInfo.InvariantCulture)} to {MaxScore.ToString(CultureInfo.InvariantCulture)} is empty");
        }
        if (CallTimeout <= TimeSpan.Zero)
        {
            problems.Add("the call timeout must be positive");
        }
        if (string.IsNullOrWhiteSpace(Method))
        {
            problems.Add("the method is empty; name one, e.g. evaluate");
        }
        EvaluationJob.Collect(problems, () => Environment.Validate());
        if (problems.Count > 0)
        {
            throw new JobOptionsException(problems);
        }
    }
}

/// <summary>One task's check: its two calls' times, and what differed or was wrong.</summary>
public sealed record TaskCheck(long TaskId, TimeSpan First, TimeSpan Second, IReadOnlyList<string> Problems);

/// <summary>A validation's outcome.</summary>
/// <param name="Image">The image checked.</param>
/// <param name="Method">The method called.</param>
/// <param name="Tasks">Each task's check.</param>
/// <param name="HadChallenges">Whether challenges could be compared (a <c>generate</c> or a <c>prompt</c> in the results).</param>
/// <param name="ScoresMustRepeat">Whether scores had to repeat (a deterministic local model).</param>
public sealed record ValidationReport(string Image, string Method, IReadOnlyList<TaskCheck> Tasks, bool HadChallenges, bool ScoresMustRepeat)
{
    /// <summary>Every problem, <c>task N: ...</c>.</summary>
    public IReadOnlyList<string> Problems => [.. Tasks.SelectMany(t => t.Problems.Select(p => $"task {t.TaskId.ToString(CultureInfo.InvariantCulture)}: {p}"))];

    /// <summary>No problem was found.</summary>
    public bool Ok => Tasks.All(t => t.Problems.Count == 0);
}
