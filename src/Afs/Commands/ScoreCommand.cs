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
/// and renders the scores and weights (normalised, and as the chain's u16 vectors in <c>--out</c>). With
/// <c>--mode basilica</c> every miner's image runs on its own Basilica deployment, <c>--max-deployments</c> at once;
/// with <c>--every 30m</c> the cycle repeats (<see cref="ScoringLoop"/>) until Ctrl+C, unchanged images from the store.
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
    private readonly Option<string> _mode = BasilicaAccess.ModeOption();
    private readonly Option<int?> _maxDeployments = new("--max-deployments")
    {
        Description = $"basilica: miners' deployments alive at once (default {DefaultMaxDeployments}; each start polls the API, which allows about 60 requests a minute per key)",
    };
    private readonly Option<string?> _every = new("--every")
    {
        Description = "repeat the cycle this often until Ctrl+C, e.g. 30m, 1h, 90s: the miners are read again each time, and an image whose digest did not change is served from the store",
    };
    private readonly BasilicaSide _basilica = new();

    /// <summary>Deployments alive at once unless <c>--max-deployments</c> says otherwise: a few starts polling at once stay inside Basilica's rate limit.</summary>
    private const int DefaultMaxDeployments = 4;

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
        Options.Add(_mode);
        Options.Add(_maxDeployments);
        Options.Add(_every);
        _basilica.AddTo(this);
        AddHostOption("the miners' containers start on the first");
    }

    protected override string CancelledMessage(CommandContext context) => context.Get(_every) is not null
        ? $"stopped; the current cycle's {(BasilicaAccess.IsBasilica(context, _mode) ? "deployments are deleted" : "containers are removed")}, its results so far are kept in the store, and --out holds the last complete cycle's scores"
        : $"cancelled; the miners' {(BasilicaAccess.IsBasilica(context, _mode) ? "deployments are deleted" : "containers are removed")} and the results so far are kept in the store (no scores written)";

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var source = _miners.Source(context);
        var tasks = context.Get(_settings.Tasks) ?? throw new UsageException("give the tasks every miner is evaluated on, e.g. --tasks 1-100");
        var basilica = BasilicaAccess.IsBasilica(context, _mode);
        var every = Every(context);
        var minersConcurrency = MinersConcurrency(context, basilica);
        // Bad limits and run options fail here, not as miners' zeros.
        _settings.Check(context);
        _basilica.Check(context, basilica, _modelSide.UsesBaseline(context) ? null : context.Get(_modelSide.BaseUrl), [_networkSide.LlmUpstream, _networkSide.LlmKeyEnv]);
        var environment = basilica ? BasilicaEnvironment(context) : DockerEnvironment(context);
        var console = context.Console;
        var model = _modelSide.Endpoint(context);
        var job = new ScoringJob
        {
            // Said once the miners are read (each cycle), so that a subnet that does not exist or a node that does not
            // answer is the one line the command prints.
            Miners = new AnnouncedSource(source, set => console.Note(
                $"evaluating {AfsConsole.Plural(set.Miners.Count, "miner")} of {source.Describe}" +
                (set.Block is { } block ? $" (block #{block.Number.ToString(CultureInfo.InvariantCulture)}, {set.Miners.Count(m => m.HasImage).ToString(CultureInfo.InvariantCulture)} with an image)" : "") +
                $" on {AfsConsole.Plural(tasks.Count, "task")} ({TaskIds.Format(tasks)}), " +
                (basilica ? $"{AfsConsole.Plural(minersConcurrency, "deployment")} on Basilica at once" : $"{minersConcurrency} at a time") +
                (model is null ? $"; {OfflineModel.Label}" : "") + (basilica ? "" : $"; network {environment.Docker.Network}") +
                (every is { } interval ? $"; every {Describe(interval)} until Ctrl+C" : ""))),
            Environment = environment,
            Request = _settings.Request(context, _modelSide.GivenKwargs(context), null),
            Model = model,
            LocalModelPort = context.Get(_modelSide.BaselinePort),
            LlmUpstream = context.Get(_networkSide.LlmUpstream),
            LlmKeyVariable = context.Get(_networkSide.LlmKeyEnv),
            LlmPublicUrl = context.Get(_basilica.LlmPublicUrl),
            LlmListen = context.Get(_basilica.LlmListen),
            MinersConcurrency = minersConcurrency,
        };
        await using var store = await ResultStore.OpenAsync(context.Get(_store), context.LoggerFactory, cancellationToken);
        if (!basilica)
        {
            await Engines.RequireReachableAsync(context.Engines[0], cancellationToken);
        }
        // One client for every miner, so that the caps count all their containers; its LLM gateway (a token per
        // miner) stops with the command.
        await using var client = _profile.Client(context);
        var service = new ScoringService(client, store, new EvaluationServiceOptions { LocalModel = new OfflineModel(context.LoggerFactory) }, context.LoggerFactory);
        var scored = new Reporter<MinerScore>(s => console.Note(
            $"miner {s.Miner.Uid} ({(s.Miner.Image is { } image ? ImageReference.ShortenDigests(image) : "no image")}): score {ResultViews.F(s.Score)}" +
            (s.Summary is { FromCache: > 0 } sum ? $", {sum.FromCache} of {sum.Tasks} tasks from the store{(sum.FromCache == sum.Tasks ? " (image unchanged)" : "")}" : "") +
            (s.Reason is { } why ? $" ({why})" : "")));
        var notes = new Reporter<string>(console.Note);
        if (every is not { } period)
        {
            var report = await service.ScoreAsync(job, scored, notes, cancellationToken);
            await RenderAsync(context, report, tasks, null, cancellationToken);
            return ExitCodes.Ok;
        }
        // The loop: each cycle rendered as it ends; Ctrl+C ends it between or during cycles (as a cancellation).
        await new ScoringLoop(service, loggerFactory: context.LoggerFactory).RunAsync(job, period, new Reporter<ScoringCycle>(cycle =>
        {
            if (cycle.Report is { } report)
            {
                RenderAsync(context, report, tasks, cycle, cancellationToken).GetAwaiter().GetResult();
            }
            else
            {
                console.Note($"cycle {cycle.Number} failed: {cycle.Error}; the next one starts at {cycle.NextAt.ToLocalTime():HH:mm:ss}");
            }
        }), scored, notes, cancellationToken);
        return ExitCodes.Ok;
    }

    /// <summary>The scores of one cycle: <c>--out</c> (rewritten each cycle), then a table or a JSON document (one line per cycle with <c>--every</c>).</summary>
    private async Task RenderAsync(CommandContext context, ScoreReport report, IReadOnlyList<long> tasks, ScoringCycle? cycle, CancellationToken cancellationToken)
    {
        var console = context.Console;
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
            console.WriteJson(cycle is null ? document : new { cycle = cycle.Number, started_at = cycle.StartedAt, next_at = cycle.NextAt, scores = document });
            return;
        }
        var table = console.Table("UID", "IMAGE", "SCORE", "WEIGHT", "SUCCESS", "CACHED", "RUN", "REASON");
        foreach (var (s, weight) in report.Miners.Zip(report.Weights))
        {
            table.AddTextRow(s.Miner.Uid, s.Miner.Image is { } image ? ImageReference.ShortenDigests(image) : "-", ResultViews.F(s.Score), ResultViews.F(weight),
                s.Summary is { } sum ? sum.SuccessRate.ToString("P0", CultureInfo.InvariantCulture) : "-",
                s.Summary is { } cached ? $"{cached.FromCache}/{cached.Tasks}" : "-", s.RunId ?? "-", s.Reason ?? "");
        }
        if (cycle is not null)
        {
            console.Line($"cycle {cycle.Number} ({cycle.StartedAt.ToLocalTime():HH:mm:ss}, {cycle.Took.TotalSeconds:0} s): " +
                $"{AfsConsole.Plural(cycle.UnchangedMiners, "miner")} unchanged (every task from the store), the others evaluated");
        }
        console.Write(table);
        console.Line($"weights: {ScoringService.Normalisation}" + (context.Get(_out) is { } written ? $"; written to {written} with the chain's uids and u16 weights" : ""));
        if (cycle is not null)
        {
            console.Line($"next cycle at {cycle.NextAt.ToLocalTime():HH:mm:ss}; Ctrl+C ends the loop");
        }
    }

    /// <summary>Miners at once: <c>--miners-concurrency</c> on Docker, <c>--max-deployments</c> on Basilica (each refused in the other mode).</summary>
    private int MinersConcurrency(CommandContext context, bool basilica)
    {
        if (basilica && context.Given(_parallel))
        {
            throw new UsageException("with --mode basilica, --max-deployments sets how many miners are evaluated at once (each on its own deployment)");
        }
        if (!basilica && context.Given(_maxDeployments))
        {
            throw new UsageException("--max-deployments applies to --mode basilica; on Docker, --miners-concurrency sets how many miners run at once");
        }
        var value = basilica ? context.Get(_maxDeployments) ?? DefaultMaxDeployments : context.Get(_parallel);
        if (value is < 1 or > 64)
        {
            throw new UsageException(basilica
                ? $"--max-deployments {value}: give 1 to 64 deployments alive at once (the default {DefaultMaxDeployments} stays within Basilica's ~60 API requests a minute)"
                : $"--miners-concurrency {value}: give 1 to 64");
        }
        return value;
    }

    /// <summary><c>--every</c>: <c>90s</c>, <c>30m</c>, <c>1h</c>, or seconds; at least a minute.</summary>
    private TimeSpan? Every(CommandContext context)
    {
        if (context.Get(_every) is not { } text)
        {
            return null;
        }
        var unit = text.Length > 0 && char.IsLetter(text[^1]) ? char.ToLowerInvariant(text[^1]) : 's';
        var number = unit == 's' && !char.IsLetter(text[^1]) ? text : text[..^1];
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || unit is not ('s' or 'm' or 'h'))
        {
            throw new UsageException($"--every '{text}' is not a duration; give e.g. 30m, 1h or 90s");
        }
        var every = unit switch { 'h' => TimeSpan.FromHours(value), 'm' => TimeSpan.FromMinutes(value), _ => TimeSpan.FromSeconds(value) };
        if (every < TimeSpan.FromMinutes(1) || every > TimeSpan.FromDays(7))
        {
            throw new UsageException($"--every {text}: give a minute to 7 days, e.g. 30m");
        }
        return every;
    }

    private static string Describe(TimeSpan every) => every.TotalHours >= 1 && every.TotalHours % 1 == 0 ? $"{every.TotalHours:0}h"
        : every.TotalMinutes % 1 == 0 ? $"{every.TotalMinutes:0}m" : $"{every.TotalSeconds:0}s";

    private EnvironmentOptions DockerEnvironment(CommandContext context)
    {
        _profile.Check(context);
        var network = _networkSide.Check(context, [context.Engines[0]]);
        _networkSide.Llm(context, network, context.Get(_modelSide.BaseUrl) ?? "http://127.0.0.1/v1", context.Get(_modelSide.ApiKeyEnv)); // refuses flags that name no gateway
        return new EnvironmentOptions
        {
            MemLimit = context.Get(_profile.MemLimit),
            CpuLimit = context.Get(_profile.CpuLimit),
            ReadyTimeout = Seconds.Value(context, _readyTimeout)!.Value,
            MaxResultBytes = context.Get(_maxResult) ?? new EnvironmentOptions().MaxResultBytes,
            Cleanup = true,
            Docker = new DockerOptions
            {
                Hosts = [context.Engines[0]],
                SshConfigFile = Engines.SshConfigFile,
                Hardening = _profile.Hardening(context),
                Network = network,
            },
        };
    }

    /// <summary>Every miner's deployment as the flags give it; Docker's confinement flags are refused.</summary>
    private EnvironmentOptions BasilicaEnvironment(CommandContext context)
    {
        BasilicaSide.RefuseDockerFlags(context, _profile, _networkSide.Network);
        return _basilica.Environment(context, _profile, null, 1, new Dictionary<string, string>(), Seconds.Value(context, _readyTimeout)!.Value, context.Get(_maxResult));
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
