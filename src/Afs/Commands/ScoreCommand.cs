using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Evaluation;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Jobs;
using Affinetes.ValidatorClient.Miners;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs score MINERS.json | --subtensor URL --netuid N --tasks 1-100</c>: maps its options to the library's
/// <see cref="ScoringJob"/> (the miners from a file or a subtensor node), runs it through <see cref="ScoringService"/>
/// and renders the scores and weights (normalised, and as the chain's u16 vectors in <c>--out</c>).
/// </summary>
internal sealed class ScoreCommand : AfsCommand
{
    private readonly MinersOptions _miners = new("score");
    private readonly Option<int> _parallel = new("--miners-concurrency") { Description = "miners evaluated at the same time", DefaultValueFactory = _ => 2 };
    private readonly Option<double?> _readyTimeout = Seconds.Option("--ready-timeout", "seconds a miner's environment may take to become ready before it scores 0", 120);
    private readonly Option<string?> _out = new("--out", "-o") { Description = "file that gets the scores and weights as JSON (with the chain's uids and u16 weights)" };
    private readonly Option<string?> _store = StoreOption.Create();
    private readonly RunSettings _settings = new("task ids and ranges every miner is evaluated on, e.g. 1-100", "tasks in flight per miner");
    private readonly ModelSide _modelSide = new();
    private readonly ContainerProfileOptions _profile = new();
    private readonly NetworkSide _networkSide = new("isolated", "miners' images are strangers' code");
    private readonly Option<long?> _maxResult = ResultSize.Option();

    public ScoreCommand()
        : base("score", "Evaluate every miner's image on a task set and print scores and normalised weights (the validator cycle).")
    {
        _miners.AddTo(this);
        Options.Add(_parallel);
        Options.Add(_readyTimeout);
        Options.Add(_out);
        Options.Add(_store);
        _settings.AddTo(this);
        _modelSide.AddTo(this);
        _profile.AddTo(this);
        _networkSide.AddTo(this);
        Options.Add(_maxResult);
        AddHostOption("the miners' containers start on the first");
    }

    protected override string CancelledMessage(CommandContext context) => "cancelled; the miners' containers are removed and the results so far are kept in the store (no scores written)";

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var source = _miners.Source(context);
        var tasks = context.Get(_settings.Tasks) ?? throw new UsageException("give the tasks every miner is evaluated on, e.g. --tasks 1-100");
        if (context.Get(_parallel) is < 1 or > 64)
        {
            throw new UsageException($"--miners-concurrency {context.Get(_parallel)}: give 1 to 64");
        }
        // Bad limits and run options fail here, not as miners' zeros.
        _settings.Check(context);
        _profile.Check(context);
        var network = _networkSide.Check(context, [context.Engines[0]]);
        _networkSide.Llm(context, network, context.Get(_modelSide.BaseUrl) ?? "http://127.0.0.1/v1", context.Get(_modelSide.ApiKeyEnv)); // refuses flags that name no gateway
        var console = context.Console;
        var model = _modelSide.Endpoint(context);
        var job = new ScoringJob
        {
            // Said once the miners are read, so that a subnet that does not exist or a node that does not answer is
            // the one line the command prints.
            Miners = new AnnouncedSource(source, set => console.Note(
                $"evaluating {AfsConsole.Plural(set.Miners.Count, "miner")} of {source.Describe}" +
                (set.Block is { } block ? $" (block #{block.Number.ToString(CultureInfo.InvariantCulture)}, {set.Miners.Count(m => m.HasImage).ToString(CultureInfo.InvariantCulture)} with an image)" : "") +
                $" on {AfsConsole.Plural(tasks.Count, "task")} ({TaskIds.Format(tasks)}), {context.Get(_parallel)} at a time" +
                (model is null ? $"; {OfflineModel.Label}" : "") + $"; network {network}")),
            Environment = new EnvironmentOptions
            {
                MemLimit = context.Get(_profile.MemLimit),
                CpuLimit = context.Get(_profile.CpuLimit),
                Hardening = _profile.Hardening(context),
                Hosts = [context.Engines[0]],
                SshConfigFile = Engines.SshConfigFile,
                Network = network,
                ReadyTimeout = Seconds.Value(context, _readyTimeout)!.Value,
                MaxResultBytes = context.Get(_maxResult) ?? new EnvironmentOptions().MaxResultBytes,
                Cleanup = true,
                LoggerFactory = context.LoggerFactory,
            },
            Request = _settings.Request(context, _modelSide.GivenKwargs(context), null),
            Model = model,
            LocalModelPort = context.Get(_modelSide.BaselinePort),
            LlmUpstream = context.Get(_networkSide.LlmUpstream),
            LlmKeyVariable = context.Get(_networkSide.LlmKeyEnv),
            MinersConcurrency = context.Get(_parallel),
        };
        await using var store = await ResultStore.OpenAsync(context.Get(_store), context.LoggerFactory, cancellationToken);
        await Engines.RequireReachableAsync(context.Engines[0], cancellationToken);
        // One client for every miner, so that the caps count all their containers; its LLM gateway (a token per
        // miner) stops with the command.
        await using var client = _profile.Client(context);
        var service = new ScoringService(client, store, new EvaluationServiceOptions { LocalModel = new OfflineModel(context.LoggerFactory), LoggerFactory = context.LoggerFactory });
        var report = await service.ScoreAsync(job, new Reporter<MinerScore>(s => console.Note(
            $"miner {s.Miner.Uid} ({(s.Miner.Image is { } image ? ImageReference.ShortenDigests(image) : "no image")}): score {ResultViews.F(s.Score)}" + (s.Reason is { } why ? $" ({why})" : ""))),
            new Reporter<string>(console.Note), cancellationToken);

        var document = Document(report, tasks);
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
        foreach (var (s, weight) in report.Miners.Zip(report.Weights))
        {
            table.AddTextRow(s.Miner.Uid, s.Miner.Image is { } image ? ImageReference.ShortenDigests(image) : "-", ResultViews.F(s.Score), ResultViews.F(weight),
                s.Summary is { } sum ? sum.SuccessRate.ToString("P0", CultureInfo.InvariantCulture) : "-",
                s.Summary?.FromCache.ToString(CultureInfo.InvariantCulture) ?? "-", s.RunId ?? "-", s.Reason ?? "");
        }
        console.Write(table);
        console.Line($"weights: {ScoringService.Normalisation}" + (context.Get(_out) is { } written ? $"; written to {written} with the chain's uids and u16 weights" : ""));
        return ExitCodes.Ok;
    }

    private static object Document(ScoreReport report, IReadOnlyList<long> tasks) => new
    {
        method = report.Method,
        tasks = TaskIds.Format(tasks),
        label = report.ModelLabel,
        block = report.Block is { } b ? new { number = b.Number, hash = b.Hash } : null,
        normalisation = ScoringService.Normalisation,
        miners = report.Miners.Zip(report.Weights).Select(pair => new
        {
            uid = pair.First.Miner.Uid,
            hotkey = pair.First.Miner.Hotkey,
            image = pair.First.Miner.Image,
            commit_block = pair.First.Miner.CommitBlock,
            image_digest = pair.First.ImageDigest,
            run = pair.First.RunId,
            score = pair.First.Score,
            weight = pair.Second,
            success_rate = pair.First.Summary?.SuccessRate,
            mean_score_ci95 = pair.First.Summary is { } sum ? new[] { sum.MeanScoreLow, sum.MeanScoreHigh } : null,
            cache_hits = pair.First.Summary?.FromCache,
            failed_tasks = pair.First.Summary?.Failed,
            error = pair.First.Reason,
        }),
        // What the Bittensor SDK's set_weights takes (its convert_weights_and_uids_for_emit rule): hand these to the signer.
        chain_weights = report.ChainUids is null ? null : new { uids = report.ChainUids, weights = report.ChainWeights },
    };

    /// <summary>The miners source, telling <paramref name="read"/> what it read before scoring uses it.</summary>
    private sealed class AnnouncedSource(IMinersSource inner, Action<MinerSet> read) : IMinersSource
    {
        public string Describe => inner.Describe;

        public async Task<MinerSet> ReadAsync(CancellationToken cancellationToken = default)
        {
            var set = await inner.ReadAsync(cancellationToken);
            read(set);
            return set;
        }
    }
}
