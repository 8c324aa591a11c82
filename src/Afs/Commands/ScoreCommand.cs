using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Evaluation;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Miners;
using Affinetes.ValidatorClient.Results;
using Docker.DotNet;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs score MINERS.json --tasks 1-100</c>: the validator's cycle. Each miner's image (the file maps uid to image
/// reference, as a chain commitment gives it) is started in its own environment and evaluated on the task set,
/// a few miners at a time; its score is the mean over the tasks (a failed task counts 0), and a miner whose image
/// cannot be pulled, never becomes ready or has no such method (or that is no valid image reference) scores 0 with the reason. Weights are the scores
/// normalised to sum 1 (all 0 when every score is 0). Results go to the store, so an unchanged image (same id) is
/// served from it next cycle.
/// </summary>
internal sealed class ScoreCommand : AfsCommand
{
    /// <summary>How weights are made from scores, as written in the output.</summary>
    public const string Normalisation = "weight = score / sum of all scores (scores are mean task scores, failed tasks 0); every weight is 0 when every score is 0";

    private readonly Argument<string> _miners = new("miners") { Description = "JSON file mapping miner uid to image reference, e.g. {\"1\": \"registry/miner-a:v3\"}" };
    private readonly Option<int> _parallel = new("--miners-concurrency") { Description = "miners evaluated at the same time", DefaultValueFactory = _ => 2 };
    private readonly Option<double?> _readyTimeout = Seconds.Option("--ready-timeout", "seconds a miner's environment may take to become ready before it scores 0", 120);
    private readonly Option<string?> _out = new("--out", "-o") { Description = "file that gets the scores and weights as JSON" };
    private readonly Option<string?> _store = StoreOption.Create();
    private readonly RunSettings _settings = new("task ids and ranges every miner is evaluated on, e.g. 1-100", "tasks in flight per miner");
    private readonly ModelSide _modelSide = new();
    private readonly ContainerProfileOptions _profile = new();
    private readonly NetworkSide _networkSide = new("isolated", "miners' images are strangers' code");

    public ScoreCommand()
        : base("score", "Evaluate every miner's image on a task set and print scores and normalised weights (the validator cycle).")
    {
        Arguments.Add(_miners);
        Options.Add(_parallel);
        Options.Add(_readyTimeout);
        Options.Add(_out);
        Options.Add(_store);
        _settings.AddTo(this);
        _modelSide.AddTo(this);
        _profile.AddTo(this);
        _networkSide.AddTo(this);
        AddHostOption("the miners' containers start on the first");
    }

    protected override string CancelledMessage(CommandContext context) => "cancelled; the miners' containers are removed and the results so far are kept in the store (no scores written)";

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var miners = (await MinersSource.FromFile(context.Get(_miners)!).ReadAsync(cancellationToken)).Miners;
        var tasks = context.Get(_settings.Tasks) ?? throw new UsageException("give the tasks every miner is evaluated on, e.g. --tasks 1-100");
        if (context.Get(_parallel) is < 1 or > 64)
        {
            throw new UsageException($"--miners-concurrency {context.Get(_parallel)}: give 1 to 64");
        }
        // Bad limits and run options fail here, not as miners' zeros.
        _settings.Check(context);
        _profile.Check(context);
        // One client for every miner, so that the caps count all their containers; its LLM gateway (a token per
        // miner) stops with the command.
        await using var client = _profile.Client(context);
        _networkSide.Check(context, [context.Engines[0]]);
        var useBaseline = _modelSide.UsesBaseline(context);
        var console = context.Console;
        await using var store = await ResultStore.OpenAsync(context.Get(_store), context.LoggerFactory, cancellationToken);
        await Engines.RequireReachableAsync(context.Engines[0], cancellationToken);
        var network = _networkSide.Parse(context);
        await using var baseline = useBaseline
            ? await OfflineModel.StartAsync(context.Get(_modelSide.BaselinePort), anyPortIfTaken: true, context.LoggerFactory, console.Note, cancellationToken)
            : null;
        var llm = EvalCommand.NetworkOptions(context, network, baseline, _modelSide, _networkSide);
        console.Note($"evaluating {AfsConsole.Plural(miners.Count, "miner")} on {AfsConsole.Plural(tasks.Count, "task")} ({TaskIds.Format(tasks)}), {context.Get(_parallel)} at a time" +
            (baseline is null ? "" : $"; {OfflineModel.Label}") + $"; {NetworkSide.Describe(network, llm)}");

        var scores = new MinerScore[miners.Count];
        using var gate = new SemaphoreSlim(context.Get(_parallel));
        await Task.WhenAll(miners.Select(async (miner, i) =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                // A miner without a usable image scores 0 with the source's reason; nothing is started for it.
                scores[i] = miner.Image is { } image
                    ? await ScoreOneAsync(context, client, new MinerNetwork(network, llm), store, baseline, miner.Uid, image, tasks, cancellationToken)
                    : new MinerScore(miner.Uid, null, null, null, 0, null, $"no usable image: {miner.Problem}");
                console.Note($"miner {miner.Uid} ({miner.Image ?? "no image"}): score {ResultViews.F(scores[i].Score)}" + (scores[i].Reason is { } why ? $" ({why})" : ""));
            }
            finally
            {
                gate.Release();
            }
        }));

        var total = scores.Sum(s => s.Score);
        var document = new
        {
            method = context.Get(_settings.Method),
            tasks = TaskIds.Format(tasks),
            label = baseline is null ? null : OfflineModel.Label,
            normalisation = Normalisation,
            miners = scores.Select(s => new
            {
                uid = s.Uid,
                image = s.Image,
                image_digest = s.Digest,
                run = s.RunId,
                score = s.Score,
                weight = total > 0 ? s.Score / total : 0,
                success_rate = s.Summary?.SuccessRate,
                mean_score_ci95 = s.Summary is { } sum ? new[] { sum.MeanScoreLow, sum.MeanScoreHigh } : null,
                cache_hits = s.Summary?.FromCache,
                failed_tasks = s.Summary?.Failed,
                error = s.Reason,
            }),
        };
        if (context.Get(_out) is { } file)
        {
            try
            {
                await File.WriteAllTextAsync(file, JsonSerializer.Serialize(document, AfsConsole.PrettyJsonOptions) + "\n", cancellationToken);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"--out {file}: {e.Message}");
            }
        }
        if (context.Json)
        {
            console.WriteJson(document);
            return ExitCodes.Ok;
        }
        var table = console.Table("UID", "IMAGE", "SCORE", "WEIGHT", "SUCCESS", "CACHED", "RUN", "REASON");
        foreach (var s in scores)
        {
            table.AddTextRow(s.Uid, s.Image ?? "-", ResultViews.F(s.Score), ResultViews.F(total > 0 ? s.Score / total : 0),
                s.Summary is { } sum ? sum.SuccessRate.ToString("P0", CultureInfo.InvariantCulture) : "-",
                s.Summary?.FromCache.ToString(CultureInfo.InvariantCulture) ?? "-", s.RunId ?? "-", s.Reason ?? "");
        }
        console.Write(table);
        console.Line($"weights: {Normalisation}" + (context.Get(_out) is { } written ? $"; written to {written}" : ""));
        return ExitCodes.Ok;
    }

    private async Task<MinerScore> ScoreOneAsync(CommandContext context, IAffinetesClient client, MinerNetwork network, IResultStore store, Baseline.BaselineServer? baseline, string uid, string image, IReadOnlyList<long> tasks, CancellationToken cancellationToken)
    {
        var envVars = new Dictionary<string, string>(StringComparer.Ordinal);
        if (network.Llm is null)
        {
            _modelSide.AddApiKey(context, envVars, baseline is not null);
        }
        IEnvironment environment;
        try
        {
            environment = await client.LoadEnvAsync(new EnvironmentOptions
            {
                MemLimit = context.Get(_profile.MemLimit),
                CpuLimit = context.Get(_profile.CpuLimit),
                Hardening = _profile.Hardening(context),
                Image = image,
                Hosts = [context.Engines[0]],
                SshConfigFile = Engines.SshConfigFile,
                EnvVars = envVars,
                Network = network.Network,
                Llm = network.Llm,
                HostNetwork = baseline is not null && network.Llm is null,
                ReadyTimeout = Seconds.Value(context, _readyTimeout)!.Value,
                Cleanup = true,
                LoggerFactory = context.LoggerFactory,
            }, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is AffinetesException or DockerApiException or HttpRequestException or IOException or TimeoutException or OperationCanceledException)
        {
            return new MinerScore(uid, image, null, null, 0, null, $"not started: {ErrorReport.OneLine(ResultViews.Shorten(e.Message, 300))}");
        }
        await using (environment)
        {
            try
            {
                return await EvaluateAsync(context, store, baseline, environment, uid, image, tasks, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is AffinetesException or DockerApiException or HttpRequestException or JsonException)
            {
                return new MinerScore(uid, image, null, null, 0, null, $"evaluation failed: {ErrorReport.OneLine(ResultViews.Shorten(e.Message, 300))}");
            }
        }
    }

    private async Task<MinerScore> EvaluateAsync(CommandContext context, IResultStore store, Baseline.BaselineServer? baseline, IEnvironment environment, string uid, string image, IReadOnlyList<long> tasks, CancellationToken cancellationToken)
    {
        var methodName = context.Get(_settings.Method)!;
        var methods = await environment.ListMethodsAsync(cancellationToken);
        if (methods.FirstOrDefault(m => m.Name == methodName) is not { } method)
        {
            return new MinerScore(uid, image, null, null, 0, null, $"no method '{methodName}' (it has {string.Join(", ", methods.Select(m => m.Name))})");
        }
        var digest = await Targets.ImageIdAsync(context.Engines[0], image, cancellationToken);
        var (kwargs, label) = _modelSide.Kwargs(context, method, baseline, environment);
        var run = await EvaluationRunner.Create(environment, store, context.LoggerFactory).StartAsync(
            _settings.Request(context, method, kwargs, digest, image, $"miner {uid}" + (label is null ? "" : $"; {label}")), cancellationToken);
        var results = new List<TaskResult>(run.TaskCount);
        await foreach (var result in run.ResultsAsync(cancellationToken))
        {
            results.Add(result);
        }
        var summary = EvaluationSummary.Of(results);
        var reason = summary.Failed == summary.Tasks && summary.Failures.FirstOrDefault() is { } f
            ? $"every task failed: {TaskErrorKinds.Name(f.Kind)} (e.g. task {f.ExampleTaskId}: {ErrorReport.OneLine(ResultViews.Shorten(f.ExampleError, 200))})"
            : null;
        return new MinerScore(uid, image, digest, run.Id, summary.MeanScore, summary, reason);
    }

    private sealed record MinerNetwork(ContainerNetwork Network, LlmAccessOptions? Llm);

    private sealed record MinerScore(string Uid, string? Image, string? Digest, string? RunId, double Score, EvaluationSummary? Summary, string? Reason);
}
