using System.CommandLine;
using System.Text.Json;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Evaluation;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Jobs;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs eval IMAGE|DIR|--url URL --tasks 1-100</c>: maps its options to the library's <see cref="EvaluationJob"/>
/// (a directory is built into an image first), runs it through <see cref="EvaluationService"/>, shows the progress,
/// writes each result as a JSON line to <c>--out</c>, and renders the summary. Without <c>--base-url</c> the model
/// side is the offline baseline served by afs itself, and the run says so. With <c>--mode basilica</c> the image runs
/// on one Basilica deployment (<c>--replicas</c> pods) for every task, deleted at the end, on Ctrl+C and on failure.
/// </summary>
internal sealed class EvalCommand : AfsCommand
{
    private readonly Argument<string?> _target = new("target") { Description = "image (my-env:dev), environment directory (built first) or URL of a running host", Arity = ArgumentArity.ZeroOrOne };
    private readonly Option<string?> _url = new("--url") { Description = "evaluate a host already running at this URL (url mode)" };
    private readonly Option<string?> _mode = new("--mode") { Description = "docker, basilica or url (default: url for a URL, else docker)" };
    private readonly Option<int> _replicas = new("--replicas") { Description = "containers serving the tasks (docker mode); pods of the deployment (basilica, 1 to 10)", DefaultValueFactory = _ => 1 };
    private readonly Option<string?> _out = new("--out", "-o") { Description = "file that gets one JSON line per task as it finishes (appended to on --resume)" };
    private readonly Option<string?> _resume = new("--resume") { Description = "resume stored run RUN (afs runs lists them): only its tasks without a result run, with its own method, kwargs, model, concurrency, timeout, retries, replicas and network" };
    private readonly Option<string?> _store = StoreOption.Create();
    private readonly RunSettings _settings = new("task ids and ranges, e.g. 1-100,200,300-310", "tasks in flight at most");
    private readonly ModelSide _modelSide = new();
    private readonly ContainerProfileOptions _profile = new();
    private readonly NetworkSide _networkSide = new("isolated", "an evaluation runs code written by others");
    private readonly Option<string[]> _env = new("--env", "-e") { Description = "environment variable K=V for the actor (repeatable; values are never printed)", AllowMultipleArgumentsPerToken = false };
    private readonly Option<string?> _envFile = new("--env-file") { Description = "file of KEY=VALUE lines for the actor" };
    private readonly Option<bool> _hostNetwork = new("--host-network") { Description = "run the containers in the engine host's network (with --network open; on by itself there with the offline baseline, which listens on 127.0.0.1)" };
    private readonly Option<double?> _readyTimeout = Seconds.Option("--ready-timeout", "seconds the replicas may take to become ready", 180);
    private readonly Option<double?> _progressEvery = Seconds.Option("--progress-interval", "seconds between progress lines when stdout is not a terminal", 5);
    private readonly Option<long?> _maxResult = ResultSize.Option();
    private readonly Option<bool> _episodes = new("--episodes") { Description = "each task is an episode of an interactive (OpenEnv) environment: reset(task_id, seed), then the model's replies as step actions until done; --kw goes to reset" };
    private readonly Option<int?> _maxSteps = new("--max-steps") { Description = "steps at most per episode (with --episodes; default 30)" };
    private readonly Option<string?> _systemPrompt = new("--system-prompt") { Description = "what the model is told before an episode's first observation (with --episodes)" };
    private readonly Option<bool> _noTranscripts = new("--no-transcripts") { Description = "keep no transcripts of the model calls (afs view shows none); the usage figures stay" };
    private readonly BasilicaSide _basilica = new();

    public EvalCommand()
        : base("eval", "Evaluate an environment on a task set in parallel; results are stored, cached and resumable.")
    {
        _mode.AcceptOnlyFromAmong("docker", "basilica", "url");
        Arguments.Add(_target);
        Options.Add(_url);
        Options.Add(_mode);
        Options.Add(_replicas);
        Options.Add(_out);
        Options.Add(_resume);
        Options.Add(_store);
        _settings.AddTo(this);
        _modelSide.AddTo(this);
        _profile.AddTo(this);
        _networkSide.AddTo(this);
        Options.Add(_env);
        Options.Add(_envFile);
        Options.Add(_hostNetwork);
        Options.Add(_readyTimeout);
        Options.Add(_progressEvery);
        Options.Add(_maxResult);
        Options.Add(_episodes);
        Options.Add(_maxSteps);
        Options.Add(_systemPrompt);
        Options.Add(_noTranscripts);
        _basilica.AddTo(this);
        AddHostOption("repeatable: replicas are spread over them");
    }

    protected override string CancelledMessage(CommandContext context) => context.Get(_mode) == BasilicaAccess.Basilica
        ? "cancelled before any task ran; the deployment it had created is deleted"
        : "cancelled before any task ran; the containers it had started are removed";

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var resumeId = context.Get(_resume);
        if (resumeId is null && context.Get(_settings.Tasks) is null)
        {
            throw new UsageException("give the tasks to evaluate, e.g. --tasks 1-100 (or --resume RUN to finish a stored run)");
        }
        if (resumeId is not null)
        {
            var given = _settings.RunShaping.Concat([_modelSide.Kw, _modelSide.BaseUrl, _modelSide.Model, _replicas, _networkSide.Network, _networkSide.LlmUpstream, _maxResult,
                    _episodes, _maxSteps, _systemPrompt, _noTranscripts,
                    _basilica.LlmPublicUrl, _basilica.LlmListen, _basilica.PassLlmKey])
                .Where(context.Given).Select(o => o.Name).ToList();
            if (given.Count > 0)
            {
                throw new UsageException("--resume runs the stored run as it was started (its tasks, method, kwargs, model, concurrency, timeout, retries, cache use, replicas and network); " +
                    $"drop {string.Join(", ", given)}");
            }
        }
        else
        {
            _settings.Check(context);
            CheckEpisodeFlags(context);
        }
        if (context.Get(_replicas) < 1)
        {
            throw new UsageException($"--replicas {context.Get(_replicas)}: give 1 or more");
        }

        if (resumeId is null)
        {
            // The Basilica options first: a missing key or a bad URL fails before anything is opened or started.
            _basilica.Check(context, context.Get(_mode) == BasilicaAccess.Basilica, _modelSide.UsesBaseline(context) ? null : context.Get(_modelSide.BaseUrl),
                [_networkSide.LlmUpstream, _networkSide.LlmKeyEnv]);
        }
        // A resume reads a store that exists; a new run makes one when there is none.
        await using var store = await ResultStore.OpenAsync(resumeId is null ? context.Get(_store) : StoreOption.Existing(context, _store), context.LoggerFactory, cancellationToken);
        RunInfo? resumed = null;
        if (resumeId is not null)
        {
            resumed = await store.GetRunAsync(resumeId, cancellationToken)
                ?? throw new UsageException($"the results store {store.Path} has no run '{resumeId}'; afs runs lists the runs it has");
            if (resumed.Status == RunStatus.Completed)
            {
                throw new UsageException($"run {resumeId} is complete: every task has a result (afs show {resumeId} prints it); start a new run to evaluate again");
            }
        }
        var target = ResolveTarget(context, resumed);
        // A resumed run keeps its mode; a new one takes --mode.
        var basilica = resumed is null ? context.Get(_mode) == BasilicaAccess.Basilica : resumed.Settings.GetValueOrDefault("environment.mode") == BasilicaAccess.Basilica;
        _basilica.Check(context, basilica, resumed is null && !_modelSide.UsesBaseline(context) ? context.Get(_modelSide.BaseUrl) : null, [_networkSide.LlmUpstream, _networkSide.LlmKeyEnv]);
        if (basilica)
        {
            BasilicaSide.CheckTarget(context, target, context.Get(_replicas));
            BasilicaSide.RefuseDockerFlags(context, _profile, _networkSide.Network, _hostNetwork);
        }
        else if (target.Kind != TargetKind.Url)
        {
            _networkSide.Check(context, context.Engines);
            _profile.Check(context); // before building the image, not a minute later
        }
        // Opened before anything starts: a path that cannot be written fails the command before a run is recorded.
        await using var jsonLines = OpenOut(context.Get(_out), append: resumed is not null);
        if (target.Kind != TargetKind.Url && !basilica)
        {
            foreach (var engine in context.Engines)
            {
                await Engines.RequireReachableAsync(engine, cancellationToken);
            }
        }
        var image = target.Kind switch
        {
            TargetKind.Directory => await Targets.BuildAsync(target.Value, context, cancellationToken),
            TargetKind.Image => target.Value,
            _ => null,
        };

        // Its own client (the caps the flags ask for): its LLM gateway stops with the command.
        await using var client = _profile.Client(context);
        var service = new EvaluationService(client, store, new EvaluationServiceOptions { LocalModel = new OfflineModel(context.LoggerFactory) }, context.LoggerFactory);
        var notes = new Reporter<string>(context.Console.Note);
        var environment = basilica ? BasilicaOptionsFor(context, image) : EnvironmentOptionsFor(context, target, image);
        if (resumed is null && _modelSide.UsesBaseline(context) && environment.Docker.Hosts.Any(h => !EnvironmentOptions.IsLocalEngine(h)) && environment.Mode == EnvironmentMode.Docker)
        {
            context.Console.Note("the offline baseline listens on this machine's 127.0.0.1, which containers on another engine cannot reach; give --base-url for them");
        }
        await using var session = resumed is not null
            ? await service.ResumeAsync(resumed.Id, environment, notes, cancellationToken)
            : await service.StartAsync(Job(context, target, image, environment), notes, cancellationToken);
        var run = session.Run;
        context.Console.Note($"run {run.Id}: {AfsConsole.Plural(run.TaskCount, "task")}" +
            (run.AlreadyDone > 0 ? $", {run.AlreadyDone} done before" : "") +
            $", {run.CacheHits} from the cache, {run.ToRun} to run, {run.Request.Concurrency} at a time over {AfsConsole.Plural(session.Environment?.Replicas.Count ?? 0, "replica")}" +
            (run.Request.ImageDigest is null && session.Options.Mode == EnvironmentMode.Url ? " (no image digest in url mode: nothing is served from the cache)" : "") +
            $", each within {CallDeadlines.Describe(run.Request.TaskTimeout)}");

        var stored = 0;
        try
        {
            await ProgressDisplay.RunAsync(context.Console, () => run.Progress, Seconds.Value(context, _progressEvery)!.Value, async () =>
            {
                await foreach (var result in run.ResultsAsync(cancellationToken))
                {
                    stored++;
                    if (jsonLines is not null)
                    {
                        await jsonLines.WriteLineAsync(JsonSerializer.Serialize(run.Request.Episodes is null ? ResultViews.Json(run.Id, result) : ResultViews.EpisodeJson(run.Id, result), AfsConsole.JsonOptions));
                    }
                }
            });
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new CommandCancelledException($"interrupted: {stored} results of run {run.Id} are kept in {store.Path}" +
                $"{(session.Environment is null || target.Kind == TargetKind.Url ? "" : basilica ? ", the deployment is deleted" : ", the containers are removed")}; " +
                $"resume with: afs eval --resume {run.Id}{StoreOption.Flag(context, _store)}", cancellationToken);
        }
        catch (BasilicaDeploymentException e)
        {
            // Basilica lost the deployment mid-run (its pods crashed, or it was deleted elsewhere): what ran is kept.
            throw new EnvironmentUnavailableException($"{e.Message}\n{stored} results of run {run.Id} are kept in {store.Path}; " +
                $"resume with: afs eval --resume {run.Id}{StoreOption.Flag(context, _store)}{(context.Get(_basilica.ApiUrl) is { } api ? $" --api-url {api}" : "")}");
        }

        var report = await session.ReportAsync(cancellationToken);
        var llmUsage = report.LlmUsage is not { } u ? null : new
        {
            tasks = u.Tasks,
            requests = u.Requests,
            errors = u.Errors,
            prompt_tokens = u.PromptTokens,
            completion_tokens = u.CompletionTokens,
            total_tokens = u.TotalTokens,
        };
        if (context.Json)
        {
            context.Console.WriteJson(new { run = report.Info is null ? null : ResultViews.Json(report.Info), summary = ResultViews.Json(report.Summary), llm_usage = llmUsage, store = store.Path, @out = context.Get(_out) });
            return ExitCodes.Ok;
        }
        context.Console.Line();
        ResultViews.WriteSummary(context.Console, run.Id, report.Info, report.Summary, report.Results);
        if (llmUsage is not null)
        {
            var through = run.Request.Episodes is null ? "LLM through the gateway (stored with the results)" : "the episodes' model (called from afs; stored with the results)";
            context.Console.Line($"{through}: " + $"{AfsConsole.Plural((int)llmUsage.requests, "request")} from {AfsConsole.Plural(llmUsage.tasks, "task")}, " +
                $"{llmUsage.prompt_tokens} prompt + {llmUsage.completion_tokens} completion tokens, {llmUsage.errors} upstream errors");
        }
        context.Console.Line($"stored in {store.Path}; afs show {run.Id}{StoreOption.Flag(context, _store)} prints every task" +
            (context.Get(_out) is { } file ? $"; JSON lines in {file}" : ""));
        return ExitCodes.Ok;
    }

    private EvaluationJob Job(CommandContext context, Target target, string? image, EnvironmentOptions environment) => new()
    {
        Environment = environment,
        Request = _settings.Request(context, _modelSide.GivenKwargs(context), target.Kind == TargetKind.Directory ? image : target.Value) with
        {
            Episodes = Episodes(context),
            RecordTranscripts = !context.Get(_noTranscripts),
        },
        Model = _modelSide.Endpoint(context),
        LocalModelPort = context.Get(_modelSide.BaselinePort),
        LlmUpstream = context.Get(_networkSide.LlmUpstream),
        LlmKeyVariable = context.Get(_networkSide.LlmKeyEnv),
        LlmPublicUrl = context.Get(_basilica.LlmPublicUrl),
        LlmListen = context.Get(_basilica.LlmListen),
    };

    private void CheckEpisodeFlags(CommandContext context)
    {
        if (context.Get(_episodes))
        {
            if (context.Given(_settings.Method))
            {
                throw new UsageException($"--episodes plays each task as an episode (reset, step, stop); it calls no --method (drop --method {context.Get(_settings.Method)})");
            }
            if (new Option[] { _networkSide.LlmUpstream, _networkSide.LlmKeyEnv }.FirstOrDefault(context.Given) is { } gateway)
            {
                throw new UsageException($"--episodes: afs calls the model itself and the containers never do, so no LLM gateway stands between; " +
                    $"name the model with --base-url and --model (its key in --api-key-env), not {gateway.Name}");
            }
            if (context.Get(_maxSteps) is < 1 or > 100_000)
            {
                throw new UsageException($"--max-steps {context.Get(_maxSteps)}: give 1 to 100000");
            }
            if (context.Get(_modelSide.BaseUrl) is { } url && context.Get(_modelSide.ApiKeyEnv) is { } key && string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(key)))
            {
                throw new UsageException($"--episodes: afs plays with the model at {url} itself and reads its API key from ${key}, which is not set: export {key} " +
                    "(any value for a local endpoint that takes none), or name another variable with --api-key-env");
            }
            return;
        }
        if (new Option[] { _maxSteps, _systemPrompt }.FirstOrDefault(context.Given) is { } stray)
        {
            throw new UsageException($"{stray.Name} applies to --episodes (each task an episode of an interactive environment); add --episodes or drop {stray.Name}");
        }
    }

    /// <summary>
    /// The episode settings of <c>--episodes</c>; the service puts the model that plays in them (<c>--base-url</c> and
    /// <c>--model</c>, or the offline baseline), called from afs itself: the containers need no model access.
    /// </summary>
    private EpisodeSettings? Episodes(CommandContext context) => !context.Get(_episodes) ? null : new EpisodeSettings
    {
        BaseUrl = context.Get(_modelSide.BaseUrl) ?? "http://127.0.0.1/v1",
        Model = context.Get(_modelSide.Model) ?? Affinetes.Baseline.BaselineModel.Name,
        ApiKeyVariable = context.Get(_modelSide.ApiKeyEnv) ?? ModelEndpoint.DefaultApiKeyVariable,
        MaxSteps = context.Get(_maxSteps) ?? 30,
        SystemPrompt = context.Get(_systemPrompt),
    };

    /// <summary>The deployment as the flags give it; the service adds the model side (the gateway's public URL, or the key when asked).</summary>
    private EnvironmentOptions BasilicaOptionsFor(CommandContext context, string? image) =>
        _basilica.Environment(context, _profile, image, context.Get(_replicas), EnvVars(context), Seconds.Value(context, _readyTimeout)!.Value, context.Get(_maxResult));

    /// <summary><c>--env-file</c>, then each <c>--env</c> over it.</summary>
    private Dictionary<string, string> EnvVars(CommandContext context)
    {
        var envVars = context.Get(_envFile) is { } file ? EnvFile.Read(file) : [];
        foreach (var (key, value) in KeyValues.Parse(context.Get(_env), "--env", secret: true))
        {
            envVars[key] = value;
        }
        return envVars;
    }

    private Target ResolveTarget(CommandContext context, RunInfo? resumed)
    {
        var given = context.Get(_target);
        var url = context.Get(_url);
        if (given is not null && url is not null)
        {
            throw new UsageException($"give either a target or --url, not both (got '{given}' and --url {url})");
        }
        var text = url ?? given ?? resumed?.Environment
            ?? throw new UsageException("name what to evaluate: an image (my-env:dev), an environment directory, or --url URL");
        var target = url is not null ? new Target(TargetKind.Url, url) : Target.Parse(text);
        if (resumed is not null && given is null && url is null && target.Kind == TargetKind.Directory)
        {
            target = new Target(TargetKind.Image, text);
        }
        switch (context.Get(_mode))
        {
            case "url" when target.Kind != TargetKind.Url:
                throw new UsageException($"--mode url needs a URL (--url http://127.0.0.1:8000); '{text}' is not one");
            case "docker" when target.Kind == TargetKind.Url:
                throw new UsageException($"--mode docker needs an image or a directory; '{text}' is a URL (use --mode url)");
        }
        if (target.Kind == TargetKind.Url && context.Get(_replicas) != 1)
        {
            throw new UsageException("--replicas applies to docker and basilica modes; a URL is one running host");
        }
        return target;
    }

    /// <summary>The environment as the flags give it; the service adds the model side (gateway, key, host network).</summary>
    private EnvironmentOptions EnvironmentOptionsFor(CommandContext context, Target target, string? image)
    {
        var readyTimeout = Seconds.Value(context, _readyTimeout)!.Value;
        var maxResult = context.Get(_maxResult) ?? new EnvironmentOptions().MaxResultBytes;
        if (target.Kind == TargetKind.Url)
        {
            if (context.Get(_networkSide.LlmUpstream) is not null)
            {
                throw new UsageException("--llm-upstream starts the LLM gateway for containers afs starts; a host at a URL gets its model settings where it runs");
            }
            return new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [target.Value], ReadyTimeout = readyTimeout, MaxResultBytes = maxResult };
        }
        var network = _networkSide.Parse(context);
        _networkSide.Llm(context, network, context.Get(_modelSide.BaseUrl) ?? "http://127.0.0.1/v1", context.Get(_modelSide.ApiKeyEnv)); // refuses flags that name no gateway
        if (context.Get(_hostNetwork) && network.Mode == NetworkMode.Isolated)
        {
            throw new UsageException($"--host-network and --network {network} exclude each other; isolated containers reach the model through afs's LLM gateway (give --network open for the host's network)");
        }
        var envVars = EnvVars(context);
        var options = new EnvironmentOptions
        {
            Image = image,
            Replicas = context.Get(_replicas),
            EnvVars = envVars,
            MemLimit = context.Get(_profile.MemLimit),
            CpuLimit = context.Get(_profile.CpuLimit),
            ReadyTimeout = readyTimeout,
            MaxResultBytes = maxResult,
            Cleanup = true,
            Docker = new DockerOptions
            {
                Hosts = context.Engines,
                SshConfigFile = Engines.SshConfigFile,
                Hardening = _profile.Hardening(context),
                Network = network,
                HostNetwork = context.Get(_hostNetwork),
            },
        };
        options.Validate();
        return options;
    }

    private static StreamWriter? OpenOut(string? path, bool append)
    {
        if (path is null)
        {
            return null;
        }
        try
        {
            return new StreamWriter(path, append) { AutoFlush = true };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--out {path}: {e.Message}");
        }
    }
}
