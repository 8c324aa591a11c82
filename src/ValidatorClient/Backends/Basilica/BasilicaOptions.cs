using System.Text;

namespace Affinetes.ValidatorClient.Environments;

/// <summary>
/// Basilica mode (<see cref="EnvironmentMode.Basilica"/>): where the API is, the key, and how long deployments may live.
/// The key never appears in <see cref="ToString"/>, logs or exceptions.
/// </summary>
public sealed record BasilicaOptions
{
    /// <summary>The public API, used when neither <see cref="ApiUrl"/> nor <c>BASILICA_API_URL</c> is set.</summary>
    public const string DefaultApiUrl = "https://api.basilica.ai";

    /// <summary>The API root; default <c>$BASILICA_API_URL</c>, else <see cref="DefaultApiUrl"/>.</summary>
    public string? ApiUrl { get; init; }

    /// <summary>The API key (<c>basilica_...</c>); default <c>$BASILICA_API_TOKEN</c>.</summary>
    public string? Token { get; init; }

    /// <summary>
    /// How long a deployment may live at most (Basilica's <c>ttlSeconds</c>): past it Basilica removes it even if this
    /// client died without deleting it. Default: <see cref="EnvironmentOptions.ReadyTimeout"/> + the longest call
    /// deadline (<see cref="EnvironmentOptions.DefaultCallTimeout"/>, else 360 s, the validators' <c>_timeout</c>) +
    /// <see cref="TtlBuffer"/>. A shared deployment serving a long evaluation needs a longer one: set it to the whole
    /// evaluation's length.
    /// </summary>
    public TimeSpan? Ttl { get; init; }

    /// <summary>What is added to the ready timeout and the call deadline to make the default TTL (the original's <c>ttl_buffer</c>).</summary>
    public TimeSpan TtlBuffer { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>
    /// Isolation: a fresh deployment (pod) for every call, deleted when the call ends, as the Python original does.
    /// Only for environments that must not share state between tasks: each call then pays a pod start.
    /// </summary>
    public bool FreshDeploymentPerCall { get; init; }

    /// <summary>
    /// First wait between status polls while a deployment starts; each wait is half as long again as the one before, up
    /// to 10 s, so that several environments starting at once stay inside Basilica's rate limit (about 60 requests a
    /// minute per key), and starts over at each change of the deployment's status.
    /// </summary>
    public TimeSpan StatusPollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>First delay before a transient failure (429, 503, a reset connection) is retried; it grows exponentially, with jitter.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often a transient failure is retried before it is raised.</summary>
    public int MaxRetries { get; init; } = 4;

    /// <summary>Receives each status change (phase, progress, ready replicas) while a deployment starts.</summary>
    public IProgress<BasilicaStatus>? Progress { get; init; }

    /// <summary>The directory where deployments this user's clients created are noted until deleted (<c>afs basilica ls</c> reads it); default under the local application data.</summary>
    public string? StateDirectory { get; init; }

    /// <summary>
    /// Requests per second this process sends to the API with this key, all its environments together (a token
    /// bucket refilled at this rate; Basilica allows about 60 a minute per key). Requests past it wait their turn.
    /// With <see cref="ApiBurst"/>, the defaults (0.75 a second, bursts of 15) never send more than 60 in any minute:
    /// a burst of starts (a scoring cycle's deployments) goes at once, polls then keep to the rate.
    /// </summary>
    public double ApiRequestsPerSecond { get; init; } = 0.75;

    /// <summary>Requests the bucket of <see cref="ApiRequestsPerSecond"/> lets through at once after a quiet spell.</summary>
    public int ApiBurst { get; init; } = 15;

    /// <summary>
    /// Put the model's real API key into the deployment (as the Python original does) when no LLM gateway stands
    /// between: the miner's code can then read and use it. Off by default; an evaluation on Basilica reaches its
    /// model through the gateway at a public URL (<see cref="LlmAccessOptions.PublicBaseUrl"/>) instead.
    /// </summary>
    public bool PassLlmKey { get; init; }

    internal string ResolvedApiUrl =>
        (ApiUrl ?? NonEmpty(System.Environment.GetEnvironmentVariable("BASILICA_API_URL")) ?? DefaultApiUrl).TrimEnd('/') + "/";

    internal string? ResolvedToken => Token ?? NonEmpty(System.Environment.GetEnvironmentVariable("BASILICA_API_TOKEN"));

    internal string ResolvedStateDirectory => StateDirectory ?? Path.Combine(
        System.Environment.GetFolderPath(System.Environment.SpecialFolder.LocalApplicationData, System.Environment.SpecialFolderOption.DoNotVerify),
        "affinetes", "basilica");

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>Checks the settings; throws <see cref="EnvironmentOptionsException"/> listing every problem.</summary>
    internal void Validate()
    {
        var errors = new List<string>();
        CollectErrors(errors);
        if (errors.Count > 0)
        {
            throw new EnvironmentOptionsException(errors);
        }
    }

    /// <summary>Adds every problem of the settings to <paramref name="errors"/>.</summary>
    internal void CollectErrors(List<string> errors)
    {
        if (!Uri.TryCreate(ResolvedApiUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add($"basilica API URL '{ApiUrl ?? System.Environment.GetEnvironmentVariable("BASILICA_API_URL")}' is not an http(s) URL; use e.g. {DefaultApiUrl}");
        }
        if (string.IsNullOrWhiteSpace(ResolvedToken))
        {
            errors.Add("basilica mode needs an API key: set BASILICA_API_TOKEN (or BasilicaOptions.Token)");
        }
        if (Ttl is { } ttl && (ttl < TimeSpan.FromSeconds(60) || ttl > TimeSpan.FromDays(7)))
        {
            errors.Add($"basilica TTL is {ttl.TotalSeconds:0.###} s; use 60 s to 7 days");
        }
        if (TtlBuffer < TimeSpan.Zero || StatusPollInterval <= TimeSpan.Zero || RetryDelay < TimeSpan.Zero || MaxRetries < 0)
        {
            errors.Add("basilica: the TTL buffer, poll interval and retry delay must not be negative (the poll interval above zero), retries 0 or more");
        }
        if (!(ApiRequestsPerSecond is >= 0.01 and <= 1000) || ApiBurst is < 1 or > 1000)
        {
            errors.Add($"basilica API rate is {ApiRequestsPerSecond.ToString(System.Globalization.CultureInfo.InvariantCulture)} requests per second with bursts of {ApiBurst}; " +
                "use a rate of 0.01 to 1000 (Basilica allows about 1 a second per key) and bursts of 1 to 1000");
        }
    }

    /// <summary>Every setting but the key, which shows as <c>***</c> when set.</summary>
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("ApiUrl = ").Append(ApiUrl).Append(", Token = ").Append(Token is null ? "" : "***")
            .Append(", Ttl = ").Append(Ttl).Append(", TtlBuffer = ").Append(TtlBuffer)
            .Append(", FreshDeploymentPerCall = ").Append(FreshDeploymentPerCall)
            .Append(", StatusPollInterval = ").Append(StatusPollInterval).Append(", RetryDelay = ").Append(RetryDelay)
            .Append(", MaxRetries = ").Append(MaxRetries).Append(", StateDirectory = ").Append(StateDirectory)
            .Append(", ApiRequestsPerSecond = ").Append(ApiRequestsPerSecond).Append(", ApiBurst = ").Append(ApiBurst)
            .Append(", PassLlmKey = ").Append(PassLlmKey);
        return true;
    }
}

/// <summary>A deployment's status as Basilica reports it while it starts.</summary>
/// <param name="InstanceName">The name Basilica gave the deployment.</param>
/// <param name="State"><c>Pending</c>, <c>Active</c>, <c>Failed</c>, <c>Terminating</c>, <c>Deleted</c>.</param>
/// <param name="Phase"><c>pending</c>, <c>pulling</c>, <c>starting</c>, <c>health_check</c>, <c>ready</c>, <c>failed</c> ...</param>
/// <param name="Message">Basilica's words about the phase, if any.</param>
/// <param name="Progress">Basilica's progress figure, if any.</param>
/// <param name="ReadyReplicas">Replicas ready.</param>
/// <param name="DesiredReplicas">Replicas asked for.</param>
public sealed record BasilicaStatus(string InstanceName, string State, string? Phase, string? Message, double? Progress, int ReadyReplicas, int DesiredReplicas);
