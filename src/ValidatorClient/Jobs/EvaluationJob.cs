using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;

namespace Affinetes.ValidatorClient.Jobs;

/// <summary>
/// One evaluation as a validator asks for it: the environment to start (or reach), the tasks and how to run them, and
/// where the model calls go. <see cref="EvaluationService"/> does the rest: the model side and the LLM gateway, the
/// network, the environment's start, the results store, cache and resume.
/// </summary>
public sealed record EvaluationJob
{
    /// <summary>
    /// The environment: an image (Docker or Basilica mode) or base URLs (url mode), with its replicas, engines,
    /// network, hardening and variables. The service adds the model side (the gateway, the API key, the host network
    /// for a local model) and keeps everything else as given.
    /// </summary>
    public required EnvironmentOptions Environment { get; init; }

    /// <summary>What to run: method, tasks, concurrency, retries, cache; its kwargs are the caller's own (typed by the method's parameters when they are <see cref="CommandLineValue"/>s).</summary>
    public required EvaluationRequest Request { get; init; }

    /// <summary>
    /// Where the model calls go; null: the service's local model (<see cref="EvaluationServiceOptions.LocalModel"/>,
    /// the offline baseline). In episode mode (<see cref="EvaluationRequest.Episodes"/>) this model plays the episodes
    /// from this process: its endpoint, name and key variable replace the settings' own.
    /// </summary>
    public ModelEndpoint? Model { get; init; }

    /// <summary>The port of the local model (fixed, so that the kwargs of runs stay equal and the cache matches).</summary>
    public int LocalModelPort { get; init; } = DefaultLocalModelPort;

    /// <summary>The key sent to a local model, which takes any.</summary>
    internal const string LocalModelKey = "local-model-takes-any-key";

    /// <summary>The local model's port unless told otherwise.</summary>
    public const int DefaultLocalModelPort = 8790;

    /// <summary>
    /// The LLM gateway's upstream when it is not the model's endpoint. With an isolated network the gateway is always
    /// there (its upstream then defaults to the model's endpoint); with an open one, only when this is set.
    /// </summary>
    public string? LlmUpstream { get; init; }

    /// <summary>The variable of this process holding the gateway upstream's key; default the model's <see cref="ModelEndpoint.ApiKeyVariable"/> when the upstream is a real endpoint.</summary>
    public string? LlmKeyVariable { get; init; }

    /// <summary>
    /// Basilica mode: the LLM gateway's base URL as the deployment reaches it from Basilica (see
    /// <see cref="LlmAccessOptions.PublicBaseUrl"/>), e.g. behind this validator's own TLS proxy. The deployment gets
    /// it and a token of its own (revoked when it is deleted), never the key; each task's calls go to its own path and
    /// their usage is stored with its result. The gateway's upstream is <see cref="LlmUpstream"/>, else the model's endpoint.
    /// </summary>
    public string? LlmPublicUrl { get; init; }

    /// <summary>With <see cref="LlmPublicUrl"/>: the TCP address the gateway listens on (<c>ADDRESS:PORT</c>), where the public URL leads; default <see cref="LlmAccessOptions.DefaultListen"/>.</summary>
    public string? LlmListen { get; init; }

    /// <summary>Set by a scoring cycle, which sweeps once for all its miners.</summary>
    internal bool SkipBasilicaSweep { get; init; }

    /// <summary>Checks the job; throws <see cref="JobOptionsException"/> listing every problem at once.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        Collect(problems, () => Environment.Validate());
        // In episode mode the job's model plays (the local one when none is named, which takes any key).
        var episodes = Request.Episodes is not { } given ? null
            : Model is { } player ? EvaluationService.PlayedBy(given, player)
            : given with { ApiKey = LocalModelKey };
        // Typed text is checked as the JSON it reads as (its parameter's type is known only once the environment runs).
        var kwargs = Request.Kwargs.ToDictionary(kv => kv.Key, kv => kv.Value is CommandLineValue typed ? typed.For(null) : kv.Value, StringComparer.Ordinal);
        Collect(problems, () => (Request with { TaskIds = Request.TaskIds.Count == 0 ? [0] : Request.TaskIds, Episodes = episodes, Kwargs = kwargs }).Validate());
        if (Request.TaskIds.Count == 0)
        {
            problems.Add("no tasks to evaluate; give task ids, e.g. 1-100,200");
        }
        if (Model is { } model && (!Uri.TryCreate(model.BaseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            problems.Add($"the model's base URL '{model.BaseUrl}' is not an http(s) URL; give e.g. https://llm.example/v1");
        }
        if (LlmUpstream is { } upstream && (!Uri.TryCreate(upstream, UriKind.Absolute, out var up) || up.Scheme is not ("http" or "https")))
        {
            problems.Add($"the LLM gateway's upstream '{upstream}' is not an http(s) URL; give e.g. https://llm.chutes.ai/v1");
        }
        if (LocalModelPort is < 0 or > 65535)
        {
            problems.Add($"the local model's port {LocalModelPort} is out of range; use 1 to 65535, or 0 for any free port");
        }
        if (Request.Episodes is not null && (LlmUpstream is not null || LlmKeyVariable is not null))
        {
            problems.Add("in episode mode this process calls the model itself (the environment never does), so no LLM gateway stands between: name the model that plays with Model (its BaseUrl), not LlmUpstream or LlmKeyVariable");
        }
        if (Environment.Mode == EnvironmentMode.Url && LlmUpstream is not null)
        {
            problems.Add("the LLM gateway runs beside containers the client starts; a host at a URL gets its model settings where it runs");
        }
        if (LlmPublicUrl is { } publicUrl && (!Uri.TryCreate(publicUrl, UriKind.Absolute, out var reachable) || reachable.Scheme is not ("http" or "https")))
        {
            problems.Add($"the LLM gateway's public URL '{publicUrl}' is not an http(s) URL; give the address at which Basilica reaches this machine's gateway, e.g. https://llm-gw.example.org/v1");
        }
        else if (LlmPublicUrl is not null && Environment.Mode != EnvironmentMode.Basilica)
        {
            problems.Add("a public URL of the LLM gateway is for Basilica deployments; Docker containers reach the gateway through their relay");
        }
        if (LlmListen is not null && LlmPublicUrl is null)
        {
            problems.Add("the LLM gateway's listen address goes with its public URL: give the public URL too");
        }
        if (Environment.Mode == EnvironmentMode.Basilica)
        {
            BasilicaModelProblems(problems);
        }
        if (problems.Count > 0)
        {
            throw new JobOptionsException(problems);
        }
    }

    /// <summary>How a Basilica deployment reaches the model: through the gateway's public URL, with the key itself when asked, or not at all.</summary>
    private void BasilicaModelProblems(List<string> problems)
    {
        var gateway = LlmPublicUrl is not null || Environment.Llm is not null;
        if (!gateway && (LlmUpstream is not null || LlmKeyVariable is not null))
        {
            problems.Add("a Basilica deployment reaches the LLM gateway only at a public URL: give the gateway's public URL too");
        }
        if (gateway && Environment.Basilica.PassLlmKey)
        {
            problems.Add("the LLM gateway keeps the key on this machine and passing the key hands it to the deployment: choose one");
        }
        if (!gateway && !Environment.Basilica.PassLlmKey && Model is { LocalOnly: false } model)
        {
            problems.Add($"a Basilica deployment runs the miner's code far from this machine; to reach the model at {model.BaseUrl} it needs the LLM gateway " +
                "at a public URL (the key stays here) or, explicitly, the key itself (BasilicaOptions.PassLlmKey: the miner's code can then read it)");
        }
    }

    internal static void Collect(List<string> problems, Action check)
    {
        try
        {
            check();
        }
        catch (EnvironmentOptionsException e)
        {
            problems.AddRange(e.Errors);
        }
        catch (JobOptionsException e)
        {
            problems.AddRange(e.Problems);
        }
        catch (EvaluationOptionsException e)
        {
            problems.Add(e.Message);
        }
    }
}

/// <summary>A job that cannot run: every problem found, each saying how to fix it.</summary>
public sealed class JobOptionsException(IReadOnlyList<string> problems)
    : AffinetesException(problems.Count == 1 ? problems[0] : string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>How an <see cref="EvaluationService"/> works.</summary>
public sealed record EvaluationServiceOptions
{
    /// <summary>The model served by this process when a job names none (the offline baseline); none by default.</summary>
    public ILocalModelServer? LocalModel { get; init; }
}
