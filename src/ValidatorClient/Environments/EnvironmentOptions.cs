namespace Affinetes.ValidatorClient.Environments;

/// <summary>How an environment is provisioned.</summary>
public enum EnvironmentMode
{
    /// <summary>Containers on Docker engines (local socket, <c>tcp://</c>, <c>ssh://user@host</c>).</summary>
    Docker,

    /// <summary>Servers already running somewhere that speak the protocol.</summary>
    Url,

    /// <summary>Deployments on Basilica.</summary>
    Basilica,
}

/// <summary>How calls are spread over replicas.</summary>
public enum LoadBalance
{
    /// <summary>Each healthy replica in turn (a replica that is down gives its turns to all the others evenly).</summary>
    RoundRobin,

    /// <summary>A healthy replica at random.</summary>
    Random,

    /// <summary>The healthy replica with the fewest calls in flight.</summary>
    LeastBusy,
}

/// <summary>When the image is pulled before containers start.</summary>
public enum PullPolicy
{
    /// <summary>Only when the engine does not have it.</summary>
    Missing,
    Always,
    Never,
}

/// <summary>
/// Everything a validator says about an environment, as the Python original's <c>load_env</c> takes it.
/// Validated once by <see cref="Validate"/>; quantities parse the same way in every mode.
/// </summary>
public sealed record EnvironmentOptions
{
    /// <summary>The image to run (docker, basilica); in url mode only a label for logs.</summary>
    public string? Image { get; init; }

    public EnvironmentMode Mode { get; init; } = EnvironmentMode.Docker;

    /// <summary>Environment variables for the actor (API keys ...). Values never reach a log line.</summary>
    public IReadOnlyDictionary<string, string> EnvVars { get; init; } = new Dictionary<string, string>();

    public int Replicas { get; init; } = 1;

    public LoadBalance LoadBalance { get; init; } = LoadBalance.RoundRobin;

    /// <summary>Container name (replica i &gt; 0 gets <c>-i</c>); a container of that name is reused when its spec matches.</summary>
    public string? ContainerName { get; init; }

    /// <summary>Memory limit: <c>"8Gi"</c>, <c>"512Mi"</c>, <c>"1g"</c>.</summary>
    public string? MemLimit { get; init; }

    /// <summary>CPU limit: <c>"2"</c>, <c>"0.5"</c>, <c>"2000m"</c>.</summary>
    public string? CpuLimit { get; init; }

    /// <summary>Stop and remove what this environment started when it is disposed.</summary>
    public bool Cleanup { get; init; } = true;

    /// <summary>
    /// Attach to running containers named <see cref="ContainerName"/> instead of starting any; in basilica mode, to the
    /// running deployment its environment was given that name for (or Basilica's own name), which is never deleted.
    /// </summary>
    public bool ConnectOnly { get; init; }

    /// <summary>The LLM the actor may use, through the client's LLM gateway (Docker mode; basilica mode at the gateway's public URL); none when null.</summary>
    public LlmAccessOptions? Llm { get; init; }

    /// <summary>URL mode: the server(s) to call.</summary>
    public IReadOnlyList<string> BaseUrls { get; init; } = [];

    /// <summary>Bearer token for the environment's host (set on containers as AFFINETES_AUTH_TOKEN, sent on calls).</summary>
    public string? AuthToken { get; init; }

    /// <summary>URL mode: check TLS certificates (turn off only for self-signed test servers).</summary>
    public bool VerifyTls { get; init; } = true;

    /// <summary>How long replicas may take to become ready.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>Deadline of a call that names none.</summary>
    public TimeSpan? DefaultCallTimeout { get; init; }

    /// <summary>
    /// The most bytes a call's result may have (16 MiB by default). The host is asked not to send more, and the client
    /// stops reading past it: such a call fails with <see cref="ResultTooLargeException"/> and nothing of it is held.
    /// </summary>
    public long MaxResultBytes { get; init; } = Protocol.ResultLimits.DefaultMaxBytes;

    /// <summary>A file the containers' log lines are appended to as they come, prefixed with the replica.</summary>
    public string? LogFile { get; init; }

    /// <summary>
    /// How many replicas must be ready before <see cref="IAffinetesClient.LoadEnvAsync"/> returns; the others join the
    /// pool as they become ready. Default: all of them.
    /// </summary>
    public int? MinReadyReplicas { get; init; }

    /// <summary>
    /// Methods that must not run twice. A call in flight on a replica that dies or stops answering is sent again to
    /// another replica, unless its method is listed here (then it fails with <see cref="EnvironmentUnavailableException"/>).
    /// Calls the actor never received (connection refused, the host refused it with 503) are always sent elsewhere.
    /// </summary>
    public IReadOnlySet<string> NonIdempotentMethods { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// Docker mode with <see cref="Cleanup"/>: each container's host stops, and its engine removes it, when it has not
    /// heard from this client for this long (the client renews it every <see cref="ReplicaHealthOptions.ProbeInterval"/>).
    /// A validator killed with SIGKILL thus leaves nothing running past it. At least 10 s.
    /// </summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How replicas are watched, judged unhealthy and replaced.</summary>
    public ReplicaHealthOptions Health { get; init; } = new();

    /// <summary>Basilica mode: the API, its key, TTL and isolation (<see cref="BasilicaOptions"/>).</summary>
    public BasilicaOptions Basilica { get; init; } = new();

    /// <summary>Docker mode: the engines, pulls, the host network, hardening and network of the containers (<see cref="DockerOptions"/>).</summary>
    public DockerOptions Docker { get; init; } = new();

    /// <summary>
    /// Checks the options once, their sub-records (<see cref="Docker"/>, <see cref="Health"/>, <see cref="Basilica"/>,
    /// <see cref="Llm"/>) with them; throws one <see cref="EnvironmentOptionsException"/> whose
    /// <see cref="EnvironmentOptionsException.Errors"/> lists every problem, each saying how to fix it.
    /// </summary>
    public void Validate() => Parse();

    /// <summary>Engines whose containers can share unix sockets with this process (bind mounts of its directories): this machine's.</summary>
    public static bool IsLocalEngine(string host) => host is "local" or "localhost" or "" || host.StartsWith("unix://", StringComparison.Ordinal)
        || (host.StartsWith("tcp://", StringComparison.Ordinal) && Uri.TryCreate(host, UriKind.Absolute, out var uri)
            && (uri.Host == "localhost" || (System.Net.IPAddress.TryParse(uri.Host, out var address) && System.Net.IPAddress.IsLoopback(address))));

    /// <summary>Checks the options and returns the parsed quantities; throws <see cref="EnvironmentOptionsException"/> listing every problem.</summary>
    internal (CpuQuantity? Cpu, MemoryQuantity? Memory) Parse()
    {
        var errors = new List<string>();
        var quantities = CollectErrors(errors);
        if (errors.Count > 0)
        {
            throw new EnvironmentOptionsException(errors);
        }
        return quantities;
    }

    /// <summary>Adds every problem of the options to <paramref name="errors"/>; returns the quantities that parsed.</summary>
    private (CpuQuantity? Cpu, MemoryQuantity? Memory) CollectErrors(List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(Docker);
        ArgumentNullException.ThrowIfNull(Health);
        ArgumentNullException.ThrowIfNull(Basilica);
        if (Replicas is < 1 or > 64)
        {
            errors.Add($"replicas is {Replicas}; use 1 to 64");
        }
        if (MinReadyReplicas is { } min && (min < 1 || min > Replicas))
        {
            errors.Add($"min ready replicas is {min}; use 1 to the number of replicas ({Replicas})");
        }
        if (Mode != EnvironmentMode.Url && string.IsNullOrWhiteSpace(Image) && !ConnectOnly)
        {
            errors.Add($"{Mode.ToString().ToLowerInvariant()} mode needs an image");
        }
        if (Mode == EnvironmentMode.Url)
        {
            if (BaseUrls.Count == 0)
            {
                errors.Add("url mode needs at least one base URL, e.g. http://127.0.0.1:8000");
            }
            foreach (var url in BaseUrls)
            {
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                {
                    errors.Add($"base URL '{url}' is not an http(s) URL");
                }
            }
        }
        if (ConnectOnly && string.IsNullOrWhiteSpace(ContainerName))
        {
            errors.Add("connect-only needs the container name to attach to");
        }
        if (ReadyTimeout <= TimeSpan.Zero)
        {
            errors.Add("ready timeout must be positive");
        }
        if (DefaultCallTimeout is { } callTimeout && callTimeout <= TimeSpan.Zero)
        {
            errors.Add("default call timeout must be positive");
        }
        if (MaxResultBytes is < 1024 or > int.MaxValue - 65536)
        {
            errors.Add($"the result size limit is {MaxResultBytes} bytes; use 1 KiB to 2 GiB");
        }
        if (Lease < TimeSpan.FromSeconds(10))
        {
            errors.Add($"lease is {Lease.TotalSeconds:0.###} s; use 10 s or more");
        }
        Health.CollectErrors(errors);
        Docker.CollectErrors(errors);
        if (Mode == EnvironmentMode.Basilica)
        {
            if (Docker.HostNetwork)
            {
                errors.Add("basilica mode runs deployments on Basilica: the host network is a Docker option");
            }
            if (Replicas > 10)
            {
                errors.Add($"replicas is {Replicas}; a basilica deployment has 1 to 10");
            }
            Basilica.CollectErrors(errors);
        }
        CollectNetworkErrors(errors);
        // Checked only once the lease itself is long enough, so that one short lease is one problem.
        if (Lease >= TimeSpan.FromSeconds(10) && Lease < Health.ProbeInterval * 3)
        {
            errors.Add($"lease ({Lease.TotalSeconds:0.###} s) must be at least three probe intervals ({Health.ProbeInterval.TotalSeconds:0.###} s each), or the lease runs out between renewals");
        }
        CpuQuantity? cpu = null;
        MemoryQuantity? memory = null;
        try
        {
            cpu = CpuLimit is null ? null : CpuQuantity.Parse(CpuLimit);
        }
        catch (FormatException e)
        {
            errors.Add(e.Message);
        }
        try
        {
            memory = MemLimit is null ? null : MemoryQuantity.Parse(MemLimit);
        }
        catch (FormatException e)
        {
            errors.Add(e.Message);
        }
        return (cpu, memory);
    }

    /// <summary>
    /// The network, the host network and the LLM gateway together: what each mode allows. Url and basilica modes
    /// start no container, so they take network open; each mode's refusal is said once, without the Docker advice
    /// that would follow from it.
    /// </summary>
    private void CollectNetworkErrors(List<string> errors)
    {
        var network = Docker.Network;
        var isolated = network.Mode == NetworkMode.Isolated;
        if (Mode == EnvironmentMode.Url)
        {
            if (isolated || Llm is not null)
            {
                errors.Add("network isolation and the LLM gateway are for environments the client starts; url mode takes network open and no LLM gateway");
            }
            return;
        }
        if (Mode == EnvironmentMode.Basilica)
        {
            if (network.Mode != NetworkMode.Open)
            {
                errors.Add($"network {network} confines Docker containers; a Basilica deployment's network is Basilica's: use network open (the model is reached through the LLM gateway's public URL)");
            }
            if (Llm is { PublicBaseUrl: null })
            {
                errors.Add("a Basilica deployment runs far from this machine and reaches the LLM gateway only at a public URL: set LlmAccessOptions.PublicBaseUrl (where Basilica reaches this machine's gateway) and Listen");
            }
            if (Llm is not null && Basilica.PassLlmKey)
            {
                errors.Add("the LLM gateway keeps the key on this machine and passing the key hands it to the deployment: choose one (BasilicaOptions.PassLlmKey or LlmAccessOptions.PublicBaseUrl)");
            }
            Llm?.CollectErrors(errors);
            return;
        }
        if (Llm?.PublicBaseUrl is not null)
        {
            errors.Add("a public URL of the LLM gateway is for environments far from this machine (basilica mode); Docker containers reach the gateway through their relay: leave PublicBaseUrl unset");
        }
        if (isolated && Docker.HostNetwork)
        {
            errors.Add("an isolated network and the host network exclude each other; drop one (isolated containers reach the LLM through the gateway, without the host network)");
        }
        if (Llm is not null && Docker.HostNetwork)
        {
            errors.Add("the LLM gateway is relayed on each container's own 127.0.0.1, which the host network does not give; drop the host network (the gateway makes it unneeded)");
        }
        if (network.EgressHosts.Count > 0 && Llm is null)
        {
            errors.Add($"network {network} goes through the LLM gateway's proxy: give the LLM upstream too (Llm, or afs --llm-upstream URL)");
        }
        if ((isolated || Llm is not null) && Docker.Hosts.FirstOrDefault(h => !IsLocalEngine(h)) is { } remote)
        {
            errors.Add(
                $"{(isolated ? $"network {network}" : "the LLM gateway")} needs a Docker engine on this machine (the client and the gateway reach the containers through bind-mounted unix sockets), and {remote} is not; " +
                "use network open without the gateway for that engine, or run the validator on the engine's machine");
        }
        Llm?.CollectErrors(errors);
    }
}

/// <summary>
/// How the replicas of an environment are watched. Every <see cref="ProbeInterval"/> each replica's <c>/ready</c> is
/// asked; a replica that misses <see cref="UnresponsiveAfterProbes"/> probes in a row, or whose calls fail in transport
/// or past their deadline at <see cref="FailureRateThreshold"/> or more over <see cref="FailureRateWindow"/>, is skipped
/// by the balancer; one that stays unresponsive for <see cref="ReplaceAfter"/> (or whose container died) is replaced.
/// </summary>
public sealed record ReplicaHealthOptions
{
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one probe may take before it counts as missed.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    public int UnresponsiveAfterProbes { get; init; } = 2;

    public TimeSpan FailureRateWindow { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Share of failed calls (0 to 1) in the window that makes a replica unhealthy.</summary>
    public double FailureRateThreshold { get; init; } = 0.5;

    /// <summary>Calls the window must hold before its failure rate counts.</summary>
    public int MinimumCalls { get; init; } = 5;

    /// <summary>How long a replica unhealthy by its failure rate is skipped before it gets calls again (if it answers probes).</summary>
    public TimeSpan ReactivationPeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a replica may stay unresponsive before it is replaced (where the backend can replace it).</summary>
    public TimeSpan ReplaceAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Adds every problem of the settings to <paramref name="errors"/>.</summary>
    internal void CollectErrors(List<string> errors)
    {
        if (ProbeInterval <= TimeSpan.Zero || ProbeTimeout <= TimeSpan.Zero || FailureRateWindow <= TimeSpan.Zero || ReplaceAfter < TimeSpan.Zero || ReactivationPeriod < TimeSpan.Zero)
        {
            errors.Add("health: intervals, timeouts and periods must be positive");
        }
        if (UnresponsiveAfterProbes < 1 || MinimumCalls < 1)
        {
            errors.Add("health: probe and call counts must be at least 1");
        }
        if (FailureRateThreshold is <= 0 or > 1)
        {
            errors.Add($"health: failure rate threshold is {FailureRateThreshold}; use a share above 0 and at most 1, e.g. 0.5");
        }
    }}
