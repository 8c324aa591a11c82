using System.CommandLine;
using System.Text.Json;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Evaluation;
using Affinetes.Baseline;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs eval IMAGE|DIR|--url URL --tasks 1-100</c>: one evaluation through the ValidatorClient's runner: the
/// environment is started (a directory built first), every task called with bounded concurrency, each result stored
/// (and served from the store when the same image, method, kwargs and task already have one), shown live, written as
/// a JSON line to <c>--out</c>, and summed up at the end; the containers are removed whatever happens. Without
/// <c>--base-url</c> the model side is the offline baseline served by afs itself, and the run says so.
/// </summary>
internal sealed class EvalCommand : AfsCommand
{
    private readonly Argument<string?> _target = new("target") { Description = "image (my-env:dev), environment directory (built first) or URL of a running host", Arity = ArgumentArity.ZeroOrOne };
    private readonly Option<string?> _url = new("--url") { Description = "evaluate a host already running at this URL (url mode)" };
    private readonly Option<string?> _mode = new("--mode") { Description = "docker, basilica or url (default: url for a URL, else docker)" };
    private readonly Option<int> _replicas = new("--replicas") { Description = "containers serving the tasks (docker mode)", DefaultValueFactory = _ => 1 };
    private readonly Option<string?> _out = new("--out", "-o") { Description = "file that gets one JSON line per task as it finishes (appended to on --resume)" };
    private readonly Option<string?> _resume = new("--resume") { Description = "resume stored run RUN (afs runs lists them): only its tasks without a result run, with its own method, kwargs, concurrency, timeout and retries" };
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

    private string? _runId;
    private string _storePath = "";
    private int _stored;
    private bool _containers;

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
        AddHostOption("repeatable: replicas are spread over them");
    }

    protected override string CancelledMessage(CommandContext context) => _runId is null
        ? "cancelled before any task ran; the containers it had started are removed"
        : $"interrupted: {_stored} results of run {_runId} are kept in {_storePath}{(_containers ? ", the containers are removed" : "")}; " +
          $"resume with: afs eval --resume {_runId}{StoreOption.Flag(context, _store)}";

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var resumeId = context.Get(_resume);
        var taskIds = context.Get(_settings.Tasks);
        if (resumeId is null && taskIds is null)
        {
            throw new UsageException("give the tasks to evaluate, e.g. --tasks 1-100 (or --resume RUN to finish a stored run)");
        }
        if (resumeId is not null)
        {
            var given = _settings.RunShaping.Concat([_modelSide.Kw, _modelSide.BaseUrl, _modelSide.Model]).Where(context.Given).Select(o => o.Name).ToList();
            if (given.Count > 0)
            {
                throw new UsageException("--resume runs the stored run as it was started (its tasks, method, kwargs, model, concurrency, timeout, retries and cache use); " +
                    $"drop {string.Join(", ", given)}");
            }
        }
        else
        {
            _settings.Check(context);
        }
        if (context.Get(_replicas) < 1)
        {
            throw new UsageException($"--replicas {context.Get(_replicas)}: give 1 or more");
        }
        if (context.Get(_url) is null && !(context.Get(_target) ?? "").StartsWith("http", StringComparison.Ordinal))
        {
            _networkSide.Check(context, context.Engines);
            _profile.Check(context); // before building the image, not a minute later
        }

        // A resume reads a store that exists; a new run makes one when there is none.
        await using var store = await ResultStore.OpenAsync(resumeId is null ? context.Get(_store) : StoreOption.Existing(context, _store), context.LoggerFactory, cancellationToken);
        _storePath = store.Path;
        RunInfo? resumed = null;
        RunLock? runLock = null;
        if (resumeId is not null)
        {
            resumed = await store.GetRunAsync(resumeId, cancellationToken)
                ?? throw new UsageException($"the results store {store.Path} has no run '{resumeId}'; afs runs lists the runs it has");
            if (resumed.Status == RunStatus.Completed)
            {
                throw new UsageException($"run {resumeId} is complete: every task has a result (afs show {resumeId} prints it); start a new run to evaluate again");
            }
            runLock = RunLock.Take(store.Path, resumeId);
        }
        try
        {
            return await EvaluateAsync(context, store, resumed, runLock, cancellationToken);
        }
        finally
        {
            runLock?.Dispose();
        }
    }

    private async Task<int> EvaluateAsync(CommandContext context, IResultStore store, RunInfo? resumed, RunLock? runLock, CancellationToken cancellationToken)
    {
        var console = context.Console;
        var target = ResolveTarget(context, resumed);
        JsonElement? storedKwargs = resumed is null ? null : JsonDocument.Parse(resumed.Kwargs).RootElement;
        // The offline baseline: by default for a new run without --base-url; on a resume, when the run used it.
        var useBaseline = resumed is null
            ? _modelSide.UsesBaseline(context)
            : storedKwargs!.Value.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String && m.GetString() == BaselineModel.Name;
        var baselinePort = context.Get(_modelSide.BaselinePort);
        if (useBaseline && storedKwargs is { } kw && kw.TryGetProperty("base_url", out var b) && Uri.TryCreate(b.GetString(), UriKind.Absolute, out var storedUrl))
        {
            baselinePort = storedUrl.Port;
        }

        // Opened before anything starts: a path that cannot be written fails the command before a run is recorded.
        await using var jsonLines = OpenOut(context.Get(_out), append: resumed is not null);
        if (target.Kind != TargetKind.Url)
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

        await using var baseline = useBaseline
            ? await OfflineModel.StartAsync(baselinePort, anyPortIfTaken: resumed is null, context.LoggerFactory, console.Note, cancellationToken)
            : null;
        var options = EnvironmentOptionsFor(context, target, image, baseline);
        _containers = target.Kind != TargetKind.Url;
        if (baseline is not null && options.Hosts.Any(h => h.StartsWith("ssh://", StringComparison.Ordinal) || h.StartsWith("tcp://", StringComparison.Ordinal)))
        {
            console.Note($"the offline baseline listens on this machine's 127.0.0.1, which containers on another engine cannot reach; give --base-url for them");
        }
        console.Note(target.Kind == TargetKind.Url
            ? $"connecting to {target.Value}"
            : $"starting {AfsConsole.Plural(options.Replicas, "replica")} of {image}{(options.HostNetwork ? " in the host's network" : "")} ({NetworkSide.Describe(options.Network, options.Llm)}) and waiting until ready");
        // Its own client (the caps the flags ask for): its LLM gateway stops with the command.
        await using var client = _profile.Client(context);
        await using var environment = await client.LoadEnvAsync(options, cancellationToken);
        var digest = image is null ? null : await Targets.ImageIdAsync(options.Hosts[0], image, cancellationToken);

        var runner = EvaluationRunner.Create(environment, store, context.LoggerFactory);
        IEvaluationRun run;
        if (resumed is not null)
        {
            run = await runner.ResumeAsync(resumed.Id, cancellationToken);
        }
        else
        {
            var methodName = context.Get(_settings.Method)!;
            var method = await MethodAsync(context, environment, methodName, cancellationToken);
            var (kwargs, label) = _modelSide.Kwargs(context, method, baseline, environment);
            run = await runner.StartAsync(_settings.Request(context, method, kwargs, digest,
                target.Kind == TargetKind.Directory ? image : target.Value, label), cancellationToken);
            runLock = RunLock.Take(store.Path, run.Id);
        }
        using var ownLock = resumed is null ? runLock : null;
        _runId = run.Id;
        console.Note($"run {run.Id}: {AfsConsole.Plural(run.TaskCount, "task")}" +
            (run.AlreadyDone > 0 ? $", {run.AlreadyDone} done before" : "") +
            $", {run.CacheHits} from the cache, {run.ToRun} to run, {run.Request.Concurrency} at a time over {AfsConsole.Plural(environment.Replicas.Count, "replica")}" +
            (digest is null ? " (no image digest in url mode: nothing is served from the cache)" : ""));

        {
            await ProgressDisplay.RunAsync(console, () => run.Progress, Seconds.Value(context, _progressEvery)!.Value, async () =>
            {
                await foreach (var result in run.ResultsAsync(cancellationToken))
                {
                    _stored++;
                    if (jsonLines is not null)
                    {
                        await jsonLines.WriteLineAsync(JsonSerializer.Serialize(ResultViews.Json(run.Id, result), AfsConsole.JsonOptions));
                    }
                }
            });
        }

        var info = await store.GetRunAsync(run.Id, cancellationToken);
        var results = await store.GetResultsAsync(run.Id, cancellationToken);
        var summary = EvaluationSummary.Of([.. results]);
        var llm = (await store.GetLlmUsageAsync(run.Id, cancellationToken)).Values.ToList();
        var llmUsage = llm.Count == 0 ? null : new
        {
            tasks = llm.Count,
            requests = llm.Sum(u => u.Requests),
            errors = llm.Sum(u => u.Errors),
            prompt_tokens = llm.Sum(u => u.PromptTokens),
            completion_tokens = llm.Sum(u => u.CompletionTokens),
            total_tokens = llm.Sum(u => u.TotalTokens),
        };
        if (context.Json)
        {
            console.WriteJson(new { run = info is null ? null : ResultViews.Json(info), summary = ResultViews.Json(summary), llm_usage = llmUsage, store = store.Path, @out = context.Get(_out) });
        }
        else
        {
            console.Line();
            ResultViews.WriteSummary(console, run.Id, info, summary, results);
            if (llmUsage is not null)
            {
                console.Line($"LLM through the gateway (stored with the results): {AfsConsole.Plural((int)llmUsage.requests, "request")} from {AfsConsole.Plural(llmUsage.tasks, "task")}, " +
                    $"{llmUsage.prompt_tokens} prompt + {llmUsage.completion_tokens} completion tokens, {llmUsage.errors} upstream errors");
            }
            console.Line($"stored in {store.Path}; afs show {run.Id}{StoreOption.Flag(context, _store)} prints every task" +
                (context.Get(_out) is { } file ? $"; JSON lines in {file}" : ""));
        }
        return ExitCodes.Ok;
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
            case "basilica":
                throw new UsageException("afs eval does not provision on Basilica itself yet: start a deployment with 'afs run IMAGE --mode basilica', then evaluate it with 'afs eval --url URL' (its URL is in 'afs basilica ls'); or use --mode docker");
            case "url" when target.Kind != TargetKind.Url:
                throw new UsageException($"--mode url needs a URL (--url http://127.0.0.1:8000); '{text}' is not one");
            case "docker" when target.Kind == TargetKind.Url:
                throw new UsageException($"--mode docker needs an image or a directory; '{text}' is a URL (use --mode url)");
        }
        if (target.Kind == TargetKind.Url && context.Get(_replicas) != 1)
        {
            throw new UsageException("--replicas applies to docker mode; a URL is one running host");
        }
        return target;
    }

    private EnvironmentOptions EnvironmentOptionsFor(CommandContext context, Target target, string? image, BaselineServer? baseline)
    {
        var readyTimeout = Seconds.Value(context, _readyTimeout)!.Value;
        var network = _networkSide.Parse(context);
        if (target.Kind == TargetKind.Url)
        {
            if (context.Get(_networkSide.LlmUpstream) is not null)
            {
                throw new UsageException("--llm-upstream starts the LLM gateway for containers afs starts; a host at a URL gets its model settings where it runs");
            }
            return new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [target.Value], ReadyTimeout = readyTimeout, LoggerFactory = context.LoggerFactory };
        }
        var envVars = context.Get(_envFile) is { } file ? EnvFile.Read(file) : [];
        foreach (var (key, value) in KeyValues.Parse(context.Get(_env), "--env", secret: true))
        {
            envVars[key] = value;
        }
        var llm = NetworkOptions(context, network, baseline, _modelSide, _networkSide);
        if (llm is null)
        {
            _modelSide.AddApiKey(context, envVars, baseline is not null);
        }
        if (context.Get(_hostNetwork) && network.Mode == NetworkMode.Isolated)
        {
            throw new UsageException($"--host-network and --network {network} exclude each other; isolated containers reach the model through afs's LLM gateway (give --network open for the host's network)");
        }
        var options = new EnvironmentOptions
        {
            Image = image,
            Replicas = context.Get(_replicas),
            Hosts = context.Engines,
            SshConfigFile = Engines.SshConfigFile,
            EnvVars = envVars,
            MemLimit = context.Get(_profile.MemLimit),
            CpuLimit = context.Get(_profile.CpuLimit),
            Hardening = _profile.Hardening(context),
            Network = network,
            Llm = llm,
            HostNetwork = (baseline is not null && llm is null) || context.Get(_hostNetwork),
            ReadyTimeout = readyTimeout,
            Cleanup = true,
            LoggerFactory = context.LoggerFactory,
        };
        options.Validate();
        return options;
    }

    /// <summary>
    /// The LLM gateway for a run's containers: <c>--llm-upstream</c>, or in an isolated network the endpoint the model
    /// calls would go to (<c>--base-url</c> with its key variable, or the offline baseline, which needs no key).
    /// </summary>
    internal static LlmAccessOptions? NetworkOptions(CommandContext context, ContainerNetwork network, BaselineServer? baseline, ModelSide modelSide, NetworkSide networkSide)
    {
        var llm = networkSide.Llm(context, network, context.Get(modelSide.BaseUrl) ?? baseline?.BaseUrl.ToString(),
            context.Get(modelSide.BaseUrl) is null && context.Get(networkSide.LlmUpstream) is null ? null : context.Get(modelSide.ApiKeyEnv));
        return llm;
    }

    /// <summary>The method's descriptor; null when the host serves no method table (its calls then say what is wrong).</summary>
    private static async Task<MethodDescriptor?> MethodAsync(CommandContext context, IEnvironment environment, string name, CancellationToken cancellationToken)
    {
        IReadOnlyList<MethodDescriptor> methods;
        try
        {
            methods = await environment.ListMethodsAsync(cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is AffinetesException or HttpRequestException or JsonException)
        {
            context.Console.Note($"the environment serves no method table ({ErrorReport.OneLine(e.Message)}); calling {name} without checking it");
            return null;
        }
        return methods.FirstOrDefault(x => x.Name == name)
            ?? throw new UsageException($"the environment has no method '{name}'; it has {string.Join(", ", methods.Select(x => x.Name))} (--method NAME)");
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
