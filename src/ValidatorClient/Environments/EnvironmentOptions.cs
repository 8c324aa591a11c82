namespace Affinetes.ValidatorClient.Environments;

/// <summary>How an environment is provisioned.</summary>
public enum EnvironmentMode
{
    /// <summary>Containers on Docker engines (local socket, <c>tcp://</c>, <c>ssh://user@host</c>).</summary>
    Docker,

    /// <summary>Servers already running somewhere that speak the protocol.</summary>
    Url,

    /// <summary>Deployments on Basilica (its own issue).</summary>
    Basilica,
}

/// <summary>How calls are spread over replicas.</summary>
public enum LoadBalance
{
    /// <summary>Each healthy replica in turn.</summary>
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

    /// <summary>Docker engines to spread replicas over: <c>local</c>, <c>unix:///path</c>, <c>tcp://host:2375</c>, <c>ssh://user@host[:port]</c>.</summary>
    public IReadOnlyList<string> Hosts { get; init; } = ["local"];

    public LoadBalance LoadBalance { get; init; } = LoadBalance.RoundRobin;

    /// <summary>Container name (replica i &gt; 0 gets <c>-i</c>); a container of that name is reused when its spec matches.</summary>
    public string? ContainerName { get; init; }

    /// <summary>Remove and recreate a container of the same name even when its spec matches.</summary>
    public bool ForceRecreate { get; init; }

    public PullPolicy Pull { get; init; } = PullPolicy.Missing;

    /// <summary>Memory limit: <c>"8Gi"</c>, <c>"512Mi"</c>, <c>"1g"</c>.</summary>
    public string? MemLimit { get; init; }

    /// <summary>CPU limit: <c>"2"</c>, <c>"0.5"</c>, <c>"2000m"</c>.</summary>
    public string? CpuLimit { get; init; }

    /// <summary>Stop and remove what this environment started when it is disposed.</summary>
    public bool Cleanup { get; init; } = true;

    /// <summary>Attach to running containers named <see cref="ContainerName"/> instead of starting any.</summary>
    public bool ConnectOnly { get; init; }

    /// <summary>Run containers in the engine host's network (the actor then listens on a free port of 127.0.0.1).</summary>
    public bool HostNetwork { get; init; }

    /// <summary>An ssh configuration file for <c>ssh://</c> hosts (passed as <c>ssh -F</c>); default: the user's own.</summary>
    public string? SshConfigFile { get; init; }

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

    /// <summary>Receives the containers' log lines as they come (prefixed with the replica), and the client's own notices.</summary>
    public Action<string>? LogSink { get; init; }

    /// <summary>A file the containers' log lines are appended to as they come (with <see cref="LogSink"/> or alone).</summary>
    public string? LogFile { get; init; }

    /// <summary>Checks the options once and returns the parsed quantities; throws <see cref="EnvironmentOptionsException"/> saying how to fix.</summary>
    public (CpuQuantity? Cpu, MemoryQuantity? Memory) Validate()
    {
        if (Replicas is < 1 or > 64)
        {
            throw new EnvironmentOptionsException($"replicas is {Replicas}; use 1 to 64");
        }
        if (Mode != EnvironmentMode.Url && string.IsNullOrWhiteSpace(Image) && !ConnectOnly)
        {
            throw new EnvironmentOptionsException($"{Mode.ToString().ToLowerInvariant()} mode needs an image");
        }
        if (Mode == EnvironmentMode.Url)
        {
            if (BaseUrls.Count == 0)
            {
                throw new EnvironmentOptionsException("url mode needs at least one base URL, e.g. http://127.0.0.1:8000");
            }
            foreach (var url in BaseUrls)
            {
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                {
                    throw new EnvironmentOptionsException($"base URL '{url}' is not an http(s) URL");
                }
            }
        }
        if (ConnectOnly && string.IsNullOrWhiteSpace(ContainerName))
        {
            throw new EnvironmentOptionsException("connect-only needs the container name to attach to");
        }
        if (Hosts.Count == 0)
        {
            throw new EnvironmentOptionsException("hosts is empty; use [\"local\"] or name Docker engines");
        }
        if (ReadyTimeout <= TimeSpan.Zero)
        {
            throw new EnvironmentOptionsException("ready timeout must be positive");
        }
        try
        {
            return (CpuLimit is null ? null : CpuQuantity.Parse(CpuLimit), MemLimit is null ? null : MemoryQuantity.Parse(MemLimit));
        }
        catch (FormatException e)
        {
            throw new EnvironmentOptionsException(e.Message);
        }
    }
}
