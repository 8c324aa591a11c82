using System.Globalization;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Miners;
using Affinetes.ValidatorClient.Results;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Affinetes.ValidatorClient.Jobs;

/// <summary>
/// The validator's cycle: every miner's image (from a <see cref="IMinersSource"/>: a JSON file, a subtensor node) is
/// started in its own environment and evaluated on the same tasks through <see cref="EvaluationService"/>, a few
/// miners at a time; score = the mean task score (a failed task counts 0); a miner without a usable image, whose
/// image cannot be pulled, never becomes ready, lacks the method, or fails every task scores 0 with the reason and
/// never stops the others. Weights are the scores normalised to sum 1, and in the chain's form (u16, the largest
/// 65535). Results go to the store, so an unchanged image is served from it next cycle. <c>afs score</c> is this.
/// </summary>
/// <param name="client">Starts the miners' environments (its caps and its LLM gateway apply); they log where the client does.</param>
/// <param name="store">Where runs and results are kept (from <see cref="ResultStore.OpenAsync"/>).</param>
/// <param name="options">The local model.</param>
/// <param name="loggerFactory">Where the service and its evaluations log (the Basilica sweep, the runners); nowhere when null.</param>
public sealed class ScoringService(IAffinetesClient client, ResultStore store, EvaluationServiceOptions? options = null, ILoggerFactory? loggerFactory = null)
{
    /// <summary>How weights are made from scores, as reports say it.</summary>
    public const string Normalisation = "weight = score / sum of all scores (scores are mean task scores, failed tasks 0); every weight is 0 when every score is 0";

    private readonly EvaluationService _evaluations = new(client, store, options, loggerFactory);

    /// <summary>
    /// Scores every miner of <paramref name="job"/>; <paramref name="scored"/> hears each miner as it is done,
    /// <paramref name="notes"/> what happens. Cancelling stops the cycle (the miners' environments are released;
    /// their results so far stay in the store).
    /// </summary>
    public async Task<ScoreReport> ScoreAsync(ScoringJob job, IProgress<MinerScore>? scored = null, IProgress<string>? notes = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        job.Validate();
        var miners = await job.Miners.ReadAsync(cancellationToken);
        if (job.Environment.Mode == EnvironmentMode.Basilica)
        {
            // A wrong key or an unreachable API fails the cycle here, not every miner; what killed validators left goes first.
            await BasilicaJobs.PrepareAsync(job.Environment.Basilica, loggerFactory ?? NullLoggerFactory.Instance, notes, checkAccess: true, cancellationToken);
        }
        await using var local = job.Model is null ? await StartLocalModelAsync(job, notes, cancellationToken) : null;
        var model = job.Model ?? local!.Endpoint;
        var scores = new MinerScore[miners.Miners.Count];
        using var gate = new SemaphoreSlim(job.MinersConcurrency);
        // A failure that is not a miner's (the store, the Basilica key) ends the cycle: the other miners stop too.
        using var cycle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? failure = null;
        try
        {
            await Task.WhenAll(miners.Miners.Select(async (miner, i) =>
            {
                await gate.WaitAsync(cycle.Token);
                try
                {
                    scores[i] = await ScoreOneAsync(job, model, miner, cycle.Token);
                    scored?.Report(scores[i]);
                }
                catch (Exception e) when (!cycle.IsCancellationRequested)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                    await cycle.CancelAsync();
                    throw;
                }
                finally
                {
                    gate.Release();
                }
            }));
        }
        catch (Exception) when (failure is not null && !cancellationToken.IsCancellationRequested)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        return ScoreReport.Of(miners.Block, scores, job.Request.Method, model);
    }

    private async Task<ILocalModel> StartLocalModelAsync(ScoringJob job, IProgress<string>? notes, CancellationToken cancellationToken)
    {
        var server = options?.LocalModel
            ?? throw new JobOptionsException(["the job names no model and the service has no local one; give the job a model endpoint"]);
        return await server.StartAsync(job.LocalModelPort, anyPortIfTaken: true, notes, cancellationToken);
    }

    private async Task<MinerScore> ScoreOneAsync(ScoringJob job, ModelEndpoint model, MinerEntry miner, CancellationToken cancellationToken)
    {
        if (miner.Image is not { } image)
        {
            return new MinerScore(miner, null, null, 0, null, $"no usable image: {miner.Problem}");
        }
        var evaluation = new EvaluationJob
        {
            Environment = job.Environment with { Image = image, ContainerName = null },
            Request = job.Request with { Environment = image, Label = $"miner {miner.Uid}" },
            Model = model,
            LlmUpstream = job.LlmUpstream,
            LlmKeyVariable = job.LlmKeyVariable,
            LlmPublicUrl = job.LlmPublicUrl,
            LlmListen = job.LlmListen,
            SkipBasilicaSweep = true,
        };
        EvaluationSession session;
        try
        {
            session = await _evaluations.StartAsync(evaluation, null, cancellationToken);
        }
        catch (MethodNotFoundException e) when (!cancellationToken.IsCancellationRequested)
        {
            return new MinerScore(miner, null, null, 0, null, e.Message.Replace("the environment has no method", "no method", StringComparison.Ordinal));
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsMinersFault(e))
        {
            return new MinerScore(miner, BasilicaJobs.PinnedDigest(image), null, 0, null, $"not started: {Reason(e)}");
        }
        await using (session)
        {
            try
            {
                await foreach (var _ in session.Run.ResultsAsync(cancellationToken))
                {
                }
                var report = await session.ReportAsync(cancellationToken);
                var summary = report.Summary;
                var reason = summary.Failed == summary.Tasks && summary.Failures.FirstOrDefault() is { } f
                    ? $"every task failed: {TaskErrorKinds.Name(f.Kind)} (e.g. task {f.ExampleTaskId}: {OneLine(Shorten(f.ExampleError, 200))})"
                    : null;
                return new MinerScore(miner, session.Run.Request.ImageDigest, session.Run.Id, summary.MeanScore, summary, reason);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsMinersFault(e) && e is not ResultStoreException)
            {
                return new MinerScore(miner, session.Run.Request.ImageDigest, session.Run.Id, 0, null, $"evaluation failed: {Reason(e)}");
            }
        }
    }

    /// <summary>
    /// What a miner's image can cause: its own 0, never the cycle's end. A store that cannot be written, and a Basilica
    /// key refused, out of funds or over quota, or an API that cannot be reached, are the validator's problem: they
    /// end the cycle rather than give every miner 0.
    /// </summary>
    private static bool IsMinersFault(Exception e) => e is AffinetesException and not JobOptionsException and not ResultStoreException and not RunInUseException
            and not BasilicaApiException { StatusCode: 401 or 402 or 403 } && !Backends.Basilica.BasilicaApi.IsUnreachable(e)
        || e is HttpRequestException or IOException or TimeoutException or OperationCanceledException or System.Text.Json.JsonException;

    /// <summary>Why, in one line: Basilica's phase, message and recent events whole; anything else shortened.</summary>
    private static string Reason(Exception e) => OneLine(Shorten(e.Message, e is BasilicaDeploymentException ? 1200 : 300));

    /// <summary>
    /// At most <paramref name="max"/> characters, digests cut first: a pinned image is named in a reason once by us and
    /// again in the engine's words, and two full digests would push the engine's cause, last, out of the limit.
    /// </summary>
    private static string Shorten(string text, int max)
    {
        text = ImageReference.ShortenDigests(text);
        return text.Length <= max ? text : text[..max] + "...";
    }

    /// <summary>The message's lines joined by "; ", a line that introduces the next ("recent events:") by a space.</summary>
    private static string OneLine(string message)
    {
        var line = new System.Text.StringBuilder();
        foreach (var part in message.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0))
        {
            line.Append(line.Length == 0 ? "" : line[^1] == ':' ? " " : "; ").Append(part);
        }
        return line.ToString();
    }
}

/// <summary>One scoring cycle: the miners, the environment every miner's image gets, the tasks, the model.</summary>
public sealed record ScoringJob
{
    /// <summary>Where the miners and their images come from.</summary>
    public required IMinersSource Miners { get; init; }

    /// <summary>What every miner's environment is like (engines, hardening, network, ready timeout ...); its image is the miner's.</summary>
    public required EnvironmentOptions Environment { get; init; }

    /// <summary>The tasks every miner is evaluated on, and how (method, concurrency per miner, deadline, retries, cache).</summary>
    public required EvaluationRequest Request { get; init; }

    /// <summary>Where the model calls go; null: the service's local model, started once for every miner.</summary>
    public ModelEndpoint? Model { get; init; }

    /// <summary>The local model's port (see <see cref="EvaluationJob.LocalModelPort"/>).</summary>
    public int LocalModelPort { get; init; } = EvaluationJob.DefaultLocalModelPort;

    /// <summary>See <see cref="EvaluationJob.LlmUpstream"/>.</summary>
    public string? LlmUpstream { get; init; }

    /// <summary>See <see cref="EvaluationJob.LlmKeyVariable"/>.</summary>
    public string? LlmKeyVariable { get; init; }

    /// <summary>See <see cref="EvaluationJob.LlmPublicUrl"/> (Basilica mode: every miner's deployment gets a token of its own).</summary>
    public string? LlmPublicUrl { get; init; }

    /// <summary>See <see cref="EvaluationJob.LlmListen"/>.</summary>
    public string? LlmListen { get; init; }

    /// <summary>
    /// Miners evaluated at the same time (1 to 64); in Basilica mode the deployments alive at once across miners
    /// (each miner's image on its own deployment; Basilica allows about 60 API requests a minute per key, so keep it low).
    /// </summary>
    public int MinersConcurrency { get; init; } = 2;

    /// <summary>Checks the job; throws <see cref="JobOptionsException"/> listing every problem.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (MinersConcurrency is < 1 or > 64)
        {
            problems.Add($"miners concurrency is {MinersConcurrency}; use 1 to 64");
        }
        EvaluationJob.Collect(problems, () => new EvaluationJob
        {
            Environment = Environment with { Image = Environment.Image ?? "check:latest" },
            Request = Request,
            Model = Model,
            LocalModelPort = LocalModelPort,
            LlmUpstream = LlmUpstream,
            LlmKeyVariable = LlmKeyVariable,
            LlmPublicUrl = LlmPublicUrl,
            LlmListen = LlmListen,
        }.Validate());
        if (problems.Count > 0)
        {
            throw new JobOptionsException(problems);
        }
    }
}

/// <summary>One miner's outcome.</summary>
/// <param name="Miner">The miner as its source gave it (uid, hotkey, image or why none).</param>
/// <param name="ImageDigest">The image's id, when it was started.</param>
/// <param name="RunId">Its run in the store, when it had one.</param>
/// <param name="Score">Mean task score (failed tasks 0); 0 when it could not be evaluated.</param>
/// <param name="Summary">Its run's summary, when it was evaluated.</param>
/// <param name="Reason">Why it scored 0 when that was not its tasks' doing; null otherwise.</param>
public sealed record MinerScore(MinerEntry Miner, string? ImageDigest, string? RunId, double Score, EvaluationSummary? Summary, string? Reason);

/// <summary>A cycle's outcome: every miner's score and weight, the weights in the chain's form, and what the cycle was.</summary>
/// <param name="Block">The chain block the miners were read at (null for a file).</param>
/// <param name="Miners">Each miner's score, in the source's order.</param>
/// <param name="Weights">Each miner's normalised weight (score / sum of scores; all 0 when every score is 0), in the same order.</param>
/// <param name="ChainUids">The uids of the chain's weight vector (the Bittensor SDK's rule: zero weights dropped); null when a uid is not a u16.</param>
/// <param name="ChainWeights">The weights as u16, the largest 65535, for <c>set_weights</c>; null with <paramref name="ChainUids"/>.</param>
/// <param name="Method">The method every miner was evaluated with.</param>
/// <param name="ModelLabel">The model every miner was evaluated against.</param>
public sealed record ScoreReport(ChainBlock? Block, IReadOnlyList<MinerScore> Miners, IReadOnlyList<double> Weights,
    IReadOnlyList<ushort>? ChainUids, IReadOnlyList<ushort>? ChainWeights, string Method, string? ModelLabel)
{
    internal static ScoreReport Of(ChainBlock? block, IReadOnlyList<MinerScore> scores, string method, ModelEndpoint model)
    {
        var total = scores.Sum(s => s.Score);
        var weights = scores.Select(s => total > 0 ? s.Score / total : 0).ToList();
        var uids = scores.Select(s => ushort.TryParse(s.Miner.Uid, NumberStyles.None, CultureInfo.InvariantCulture, out var uid) ? (ushort?)uid : null).ToList();
        (ushort[] Uids, ushort[] Weights)? chain = uids.All(u => u is not null) && uids.Distinct().Count() == uids.Count
            ? Affinetes.ValidatorClient.Miners.ChainWeights.FromScores([.. scores.Select((s, i) => (uids[i]!.Value, s.Score))])
            : null;
        return new ScoreReport(block, scores, weights, chain?.Uids, chain?.Weights, method, model.Label ?? (model.Model is { } name ? $"model: {name} at {model.BaseUrl}" : null));
    }
}
