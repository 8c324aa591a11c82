using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Backends.Docker;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Affinetes.ValidatorClient.Jobs;

/// <summary>
/// The validator's evaluation as a service: given a job (environment, tasks, model), it wires the model side (the
/// LLM gateway that keeps the key home, or the key itself, or the local model), starts the environment, reads the
/// method's descriptor (its parameters and its own <c>timeout</c>), makes the kwargs, records the run in the store,
/// serves cached tasks, and hands back a session to read the results from. A job whose every task is in the cache
/// starts no environment. <see cref="ResumeAsync"/> continues a stored run as it was started. <c>afs eval</c> is this.
/// </summary>
public sealed class EvaluationService
{
    private readonly IAffinetesClient _client;
    private readonly ResultStore _store;
    private readonly EvaluationServiceOptions _options;
    private readonly ILoggerFactory _loggers;

    /// <param name="client">Starts the environments (its caps and its LLM gateway apply); they log where the client does.</param>
    /// <param name="store">Where runs and results are kept (from <see cref="ResultStore.OpenAsync"/>).</param>
    /// <param name="options">The local model.</param>
    /// <param name="loggerFactory">Where the service and its runs log (the Basilica sweep, the runner, a key passed into a deployment); nowhere when null.</param>
    public EvaluationService(IAffinetesClient client, ResultStore store, EvaluationServiceOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(store);
        _client = client;
        _store = store;
        _options = options ?? new EvaluationServiceOptions();
        _loggers = loggerFactory ?? NullLoggerFactory.Instance;
    }

    /// <summary>
    /// Starts <paramref name="job"/>: validated first (nothing is started for a job that cannot run), then the model,
    /// the environment and the run. <paramref name="notes"/> hears what happens (starting, a missing key, a host
    /// without a method table). The session must be disposed.
    /// </summary>
    public async Task<EvaluationSession> StartAsync(EvaluationJob job, IProgress<string>? notes = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        job.Validate();
        var session = new EvaluationSession(_store);
        try
        {
            var basilica = job.Environment.Mode == EnvironmentMode.Basilica;
            if (basilica && !job.SkipBasilicaSweep)
            {
                // A wrong key or an unreachable API fails here, before the model or anything else is started.
                await BasilicaJobs.PrepareAsync(job.Environment.Basilica, _loggers, notes, checkAccess: true, cancellationToken);
            }
            var model = job.Model ?? await StartLocalModelAsync(session, job.LocalModelPort, anyPortIfTaken: true, notes, cancellationToken);
            if (job.Request.Episodes is not null)
            {
                await StartEpisodesAsync(session, job, model, notes, cancellationToken);
                return session;
            }
            var options = ModelWiring.Wire(job.Environment, model, job, notes, _loggers);
            options = BasilicaJobs.WithRunTtl(options, job.Request, job.Request.DistinctTaskIds().Count);
            session.Options = options;
            session.Model = model;
            var image = options.Mode == EnvironmentMode.Docker ? options.Image : null;
            var digest = basilica ? BasilicaJobs.PinnedDigest(options.Image!) : image is null ? null : await TryImageIdAsync(options, image, cancellationToken);
            if (basilica && digest is null && job.Request.UseCache)
            {
                notes?.Report($"{options.Image} is not pinned by digest (NAME@sha256:...): Basilica pulls whatever its tag names at the time, so nothing is served from the cache for it");
            }
            image ??= basilica ? options.Image : null;
            if (digest is not null && job.Request.UseCache && CachedPlan(job, options, model, digest) is { } cachedOnly)
            {
                // Every task has a stored result for this image, method and kwargs: no environment is started.
                notes?.Report($"every task of {image} is in the cache; no {(basilica ? "deployment" : "replica")} is started");
                session.Method = cachedOnly.Method;
                session.Run = await EvaluationRunner.Create(new UnstartedEnvironment(image!), _store, _loggers).StartAsync(cachedOnly.Request, cancellationToken);
                session.Own(RunLock.Take(_store.Path, session.Run.Id));
                return session;
            }
            notes?.Report(Starting(options));
            var environment = await _client.LoadEnvAsync(options, cancellationToken);
            session.Own(environment);
            session.Environment = environment;
            digest ??= image is null || basilica ? digest : await TryImageIdAsync(options, image, cancellationToken);
            var method = await MethodAsync(environment, job.Request.Method, notes, cancellationToken);
            session.Method = method;
            var request = Request(job, options, model, method, digest, ModelWiring.GatewayBaseUrl(options));
            session.Run = BasilicaJobs.Watch(await EvaluationRunner.Create(environment, _store, _loggers).StartAsync(request, cancellationToken), environment);
            session.Own(RunLock.Take(_store.Path, session.Run.Id));
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Episode mode: this process plays each task's episode with <paramref name="model"/> (the environment never
    /// calls it, so no gateway stands beside it and its network stays as given); the kwargs go to <c>reset</c>, typed
    /// by its parameters.
    /// </summary>
    private async Task StartEpisodesAsync(EvaluationSession session, EvaluationJob job, ModelEndpoint model, IProgress<string>? notes, CancellationToken cancellationToken)
    {
        var options = job.Environment;
        session.Options = options;
        session.Model = model;
        var image = options.Mode == EnvironmentMode.Docker ? options.Image : null;
        notes?.Report(options.Mode == EnvironmentMode.Url
            ? $"connecting to {string.Join(", ", options.BaseUrls)}"
            : $"starting {Plural(options.Replicas, "replica")} of {options.Image} (network {options.Docker.Network}; the episodes' model is called from here) and waiting until ready");
        var environment = await _client.LoadEnvAsync(options, cancellationToken);
        session.Own(environment);
        session.Environment = environment;
        var digest = image is null ? null : await TryImageIdAsync(options, image, cancellationToken);
        var reset = await MethodAsync(environment, "reset", notes, cancellationToken);
        session.Method = reset;
        var types = reset?.Parameters.ToDictionary(p => p.Name, p => p.Type, StringComparer.Ordinal) ?? [];
        var kwargs = job.Request.Kwargs.ToDictionary(kv => kv.Key, kv => kv.Value is CommandLineValue typed ? typed.For(types.GetValueOrDefault(kv.Key)) : kv.Value, StringComparer.Ordinal);
        var request = job.Request with
        {
            Kwargs = kwargs,
            Episodes = PlayedBy(job.Request.Episodes!, model),
            TaskTimeout = job.Request.TaskTimeout ?? CallDeadlines.EvaluationDefault,
            ImageDigest = job.Request.ImageDigest ?? digest,
            Environment = job.Request.Environment ?? options.Image ?? string.Join(",", options.BaseUrls),
            Label = job.Request.Label ?? model.Label ?? $"episodes played by {model.Model ?? "the model"} at {model.BaseUrl}",
            Settings = new Dictionary<string, string>(JobSettings.Of(job, options, model, method: null).Concat(job.Request.Settings)
                .GroupBy(kv => kv.Key).Select(g => g.Last()), StringComparer.Ordinal),
        };
        session.Run = await EvaluationRunner.Create(environment, _store, _loggers).StartAsync(request, cancellationToken);
        session.Own(RunLock.Take(_store.Path, session.Run.Id));
    }

    /// <summary>
    /// The episode settings with <paramref name="model"/> playing: its endpoint, name and key variable; a local model
    /// takes any key, so it gets its placeholder.
    /// </summary>
    internal static EpisodeSettings PlayedBy(EpisodeSettings episodes, ModelEndpoint model) => episodes with
    {
        BaseUrl = model.BaseUrl,
        Model = model.Model ?? episodes.Model,
        ApiKeyVariable = model.ApiKeyVariable ?? episodes.ApiKeyVariable,
        ApiKey = model.LocalOnly ? model.PlaceholderKey ?? EvaluationJob.LocalModelKey : episodes.ApiKey,
    };

    /// <summary>
    /// Continues stored run <paramref name="runId"/> as it was started: its tasks without a result, with its method,
    /// kwargs, concurrency, deadline, retries, replicas, network and model side. <paramref name="environment"/> gives
    /// what a run does not keep (engines, hardening, variables, ready timeout); the run's own settings win over it.
    /// Refused while another process runs it (<see cref="RunInUseException"/>), and for a run that is complete.
    /// </summary>
    public async Task<EvaluationSession> ResumeAsync(string runId, EnvironmentOptions? environment = null, IProgress<string>? notes = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        var info = await _store.GetRunAsync(runId, cancellationToken)
            ?? throw new ResultStoreException($"the results store {_store.Path} has no run '{runId}'");
        if (info.Status == RunStatus.Completed)
        {
            throw new JobOptionsException([$"run {runId} is complete: every task has a result; start a new run to evaluate again"]);
        }
        var session = new EvaluationSession(_store) { Resumed = true };
        session.Own(RunLock.Take(_store.Path, runId));
        try
        {
            var settings = info.Settings;
            var kwargs = CanonicalJson.Parse(info.Kwargs);
            var options = Stored(info, environment ?? new EnvironmentOptions());
            var model = await StoredModelAsync(session, info, kwargs, notes, cancellationToken);
            var job = new EvaluationJob
            {
                Environment = options,
                Request = new EvaluationRequest { TaskIds = [1], Method = info.Method },
                Model = model,
                LlmUpstream = JobSettings.Text(settings, JobSettings.LlmUpstream),
                LlmKeyVariable = JobSettings.Text(settings, JobSettings.LlmKeyVariable),
                LlmPublicUrl = JobSettings.Text(settings, JobSettings.LlmPublicUrl),
                LlmListen = JobSettings.Text(settings, JobSettings.LlmListen),
            };
            var episodes = info.Method == EpisodeSettings.MethodName;
            if (options.Mode == EnvironmentMode.Basilica)
            {
                await BasilicaJobs.PrepareAsync(options.Basilica, _loggers, notes, checkAccess: true, cancellationToken);
            }
            options = episodes ? options : ModelWiring.Wire(options, model, job, notes, _loggers);
            options = BasilicaJobs.WithRunTtl(options, info);
            session.Options = options;
            session.Model = model;
            session.Method = JobSettings.Method(JobSettings.Text(settings, JobSettings.MethodDescriptor));
            notes?.Report(Starting(options));
            var started = await _client.LoadEnvAsync(options, cancellationToken);
            session.Own(started);
            session.Environment = started;
            var runner = new ConcurrentEvaluationRunner(started, _store, _loggers);
            session.Run = BasilicaJobs.Watch(await runner.ResumeAsync(runId, episodes ? stored => PlayedBy(stored, model) : null, cancellationToken), started);
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs <paramref name="job"/> to its end and reports it: for callers that need no live view of the results.</summary>
    public async Task<EvaluationReport> RunAsync(EvaluationJob job, CancellationToken cancellationToken = default)
    {
        await using var session = await StartAsync(job, null, cancellationToken);
        await foreach (var _ in session.Run.ResultsAsync(cancellationToken))
        {
        }
        return await session.ReportAsync(cancellationToken);
    }

    /// <summary>The network and where the containers' model calls go, for the opening note.</summary>
    public static string Describe(EnvironmentOptions options) =>
        (options.Mode == EnvironmentMode.Basilica ? $"on Basilica at {options.Basilica.ResolvedApiUrl.TrimEnd('/')}" : $"network {options.Docker.Network}")
        + (options.Llm is not { } llm ? "" : $"; model calls through the LLM gateway{(llm.ResolvedPublicBaseUrl is { } url ? $" at {url}" : "")} to {llm.Upstream}" +
            (llm.KeyVariable is { } key && !string.IsNullOrEmpty(System.Environment.GetEnvironmentVariable(key))
                ? $" with the key in ${key} (kept out of the {(options.Mode == EnvironmentMode.Basilica ? "deployment" : "containers")})" : " without an API key"));

    private static string Starting(EnvironmentOptions options) => options.Mode switch
    {
        EnvironmentMode.Url => $"connecting to {string.Join(", ", options.BaseUrls)}",
        EnvironmentMode.Basilica => $"creating a Basilica deployment of {options.Image} with {Plural(options.Replicas, "replica")} ({Describe(options)}; TTL " +
            $"{options.Basilica.Ttl?.TotalSeconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture) ?? "default"} s) and waiting until ready",
        _ => $"starting {Plural(options.Replicas, "replica")} of {options.Image}{(options.Docker.HostNetwork ? " in the host's network" : "")} ({Describe(options)}) and waiting until ready",
    };


    private EvaluationRequest Request(EvaluationJob job, EnvironmentOptions options, ModelEndpoint model, MethodDescriptor? method, string? digest, string? gatewayBaseUrl)
    {
        var (kwargs, label) = ModelWiring.Kwargs(job.Request.Kwargs, method, model, gatewayBaseUrl);
        return job.Request with
        {
            Kwargs = kwargs,
            TaskTimeout = job.Request.TaskTimeout ?? CallDeadlines.For(method, kwargs, CallDeadlines.EvaluationDefault),
            ImageDigest = job.Request.ImageDigest ?? digest,
            Environment = job.Request.Environment ?? options.Image ?? string.Join(",", options.BaseUrls),
            Label = job.Request.Label is { } given ? label is null ? given : $"{given}; {label}" : label,
            Settings = new Dictionary<string, string>(JobSettings.Of(job, options, model, method).Concat(job.Request.Settings)
                .GroupBy(kv => kv.Key).Select(g => g.Last()), StringComparer.Ordinal),
        };
    }

    /// <summary>
    /// The run as it would be, when an earlier run of the same image and method left the method's descriptor (so the
    /// kwargs can be made without the environment) and every task has a cached result for them; null otherwise.
    /// </summary>
    private (EvaluationRequest Request, MethodDescriptor Method)? CachedPlan(EvaluationJob job, EnvironmentOptions options, ModelEndpoint model, string digest)
    {
        if (JobSettings.Method(_store.LatestSetting(digest, job.Request.Method, JobSettings.MethodDescriptor)) is not { } method)
        {
            return null;
        }
        var request = Request(job, options, model, method, digest, ModelWiring.GatewayBaseUrl(options));
        request.Validate();
        var tasks = request.DistinctTaskIds();
        var (text, _) = CanonicalJson.Of(request.Kwargs);
        return _store.FindCached(digest, request.Method, request.TaskIdParameter, text, tasks).Count == tasks.Count ? (request, method) : null;
    }

    private static EnvironmentOptions Stored(RunInfo info, EnvironmentOptions given)
    {
        var settings = info.Settings;
        var target = info.Environment ?? throw new JobOptionsException([$"run {info.Id} does not say what it evaluated; start a new run"]);
        var mode = JobSettings.Text(settings, JobSettings.Mode) switch
        {
            "url" => EnvironmentMode.Url,
            "basilica" => EnvironmentMode.Basilica,
            "docker" => EnvironmentMode.Docker,
            _ => target.StartsWith("http://", StringComparison.Ordinal) || target.StartsWith("https://", StringComparison.Ordinal) ? EnvironmentMode.Url : EnvironmentMode.Docker,
        };
        var options = mode == EnvironmentMode.Url
            ? given with { Mode = mode, BaseUrls = target.Split(','), Image = null }
            : given with { Mode = mode, Image = target };
        return options with
        {
            Replicas = JobSettings.Int(settings, JobSettings.Replicas) ?? given.Replicas,
            Docker = given.Docker with
            {
                Network = JobSettings.Text(settings, JobSettings.Network) is { } network ? ContainerNetwork.Parse(network) : given.Docker.Network,
                Hosts = JobSettings.Text(settings, JobSettings.Hosts) is { Length: > 0 } hosts && given.Docker.Hosts.SequenceEqual(["local"]) ? hosts.Split('\n') : given.Docker.Hosts,
                HostNetwork = given.Docker.HostNetwork || JobSettings.Flag(settings, JobSettings.HostNetwork),
            },
            MaxResultBytes = JobSettings.Long(settings, JobSettings.MaxResultBytes) ?? given.MaxResultBytes,
            Basilica = JobSettings.Flag(settings, JobSettings.BasilicaPassLlmKey) ? given.Basilica with { PassLlmKey = true } : given.Basilica,
        };
    }

    /// <summary>
    /// The model the run used: its endpoint as kept with the run, or the local model again on the port its kwargs
    /// name (another port would change them). Runs kept before settings were stored say it through their kwargs.
    /// </summary>
    private async Task<ModelEndpoint> StoredModelAsync(EvaluationSession session, RunInfo info, IReadOnlyDictionary<string, JsonElement> kwargs, IProgress<string>? notes, CancellationToken cancellationToken)
    {
        var settings = info.Settings;
        string? Kwarg(string name) => kwargs.TryGetValue(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        var baseUrl = Kwarg("base_url");
        var local = settings.Count > 0
            ? JobSettings.Flag(settings, JobSettings.ModelLocal)
            : Uri.TryCreate(baseUrl, UriKind.Absolute, out var url) && url.IsLoopback && url.Port != Gateway.GatewayAccess.RelayPort;
        if (local)
        {
            var port = JobSettings.Int(settings, JobSettings.ModelLocalPort)
                ?? (Uri.TryCreate(baseUrl, UriKind.Absolute, out var stored) ? stored.Port : EvaluationJob.DefaultLocalModelPort);
            return await StartLocalModelAsync(session, port, anyPortIfTaken: false, notes, cancellationToken);
        }
        return new ModelEndpoint
        {
            BaseUrl = JobSettings.Text(settings, JobSettings.ModelBaseUrl) ?? baseUrl ?? "http://127.0.0.1:1/v1",
            Model = JobSettings.Text(settings, JobSettings.ModelName) ?? Kwarg("model"),
            ApiKeyVariable = JobSettings.Text(settings, JobSettings.ModelKeyVariable) ?? ModelEndpoint.DefaultApiKeyVariable,
        };
    }

    private async Task<ModelEndpoint> StartLocalModelAsync(EvaluationSession session, int port, bool anyPortIfTaken, IProgress<string>? notes, CancellationToken cancellationToken)
    {
        var server = _options.LocalModel
            ?? throw new JobOptionsException(["the job names no model and the service has no local one; give the job a model endpoint"]);
        var local = await server.StartAsync(port, anyPortIfTaken, notes, cancellationToken);
        session.Own(local);
        return local.Endpoint;
    }

    /// <summary>The method's descriptor; null (said in a note) when the host serves no method table; a method it lacks fails the job.</summary>
    private static async Task<MethodDescriptor?> MethodAsync(IEnvironment environment, string name, IProgress<string>? notes, CancellationToken cancellationToken)
    {
        IReadOnlyList<MethodDescriptor> methods;
        try
        {
            methods = await environment.ListMethodsAsync(cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is AffinetesException or HttpRequestException or JsonException)
        {
            notes?.Report($"the environment serves no method table ({OneLine(e.Message)}); calling {name} without checking it");
            return null;
        }
        return methods.FirstOrDefault(m => m.Name == name)
            ?? throw new MethodNotFoundException(name, $"Method not found: {name}; it has {string.Join(", ", methods.Select(m => m.Name))}");
    }

    private async Task<string?> TryImageIdAsync(EnvironmentOptions options, string image, CancellationToken cancellationToken)
    {
        try
        {
            await using var engines = await DockerEngines.ConnectAsync([options.Docker.Hosts[0]], options.Docker.SshConfigFile, cancellationToken);
            return await engines.ImageIdAsync(options.Docker.Hosts[0], image, cancellationToken);
        }
        catch (DockerEngineException e) when (e.StatusCode == 404)
        {
            return null; // not on the engine yet: the environment's start pulls it
        }
    }

    private static string Plural(int count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";

    private static string OneLine(string message) =>
        string.Join("; ", message.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));

    /// <summary>Stands for an environment that was not started because every task came from the cache; never called.</summary>
    private sealed class UnstartedEnvironment(string name) : IEnvironment
    {
        public string Name => name;
        public IReadOnlyList<ReplicaEndpoint> Replicas => [];
        public Task<JsonElement> CallAsync(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("every task came from the cache: nothing is called");
        public Task<T> CallAsync<T>(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("every task came from the cache: nothing is called");
        public Task<IReadOnlyList<MethodDescriptor>> ListMethodsAsync(CancellationToken cancellationToken = default) => Task.FromResult<IReadOnlyList<MethodDescriptor>>([]);
        public Task<bool> HealthAsync(CancellationToken cancellationToken = default) => Task.FromResult(false);
        public IReadOnlyList<ReplicaStats> GetStats() => [];
        public T As<T>() where T : class => throw new InvalidOperationException("every task came from the cache: nothing is called");
        public IAsyncEnumerable<ReplicaLogLine> ReadLogsAsync(bool follow, CancellationToken cancellationToken = default) => AsyncEnumerable.Empty<ReplicaLogLine>();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
