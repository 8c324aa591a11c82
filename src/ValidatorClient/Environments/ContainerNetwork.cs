namespace Affinetes.ValidatorClient.Environments;

/// <summary>What a Docker-mode container may reach on the network.</summary>
public enum NetworkMode
{
    /// <summary>The engine's default bridge network: the container reaches whatever the machine reaches (a miner's own runs).</summary>
    Open,

    /// <summary>
    /// No network at all (<c>--network none</c>): the client reaches the container's host through a unix socket in a
    /// bind-mounted directory, and the actor reaches nothing but the LLM gateway (when one is given), relayed by its host.
    /// </summary>
    Isolated,
}

/// <summary>
/// A container's network: <see cref="Open"/>, <see cref="Isolated"/>, or isolated with an egress allow-list
/// (<see cref="AllowList"/>: named hosts only, through the LLM gateway's CONNECT proxy, given to the actor as
/// <c>HTTPS_PROXY</c>). Parsed from <c>isolated</c>, <c>open</c> or <c>allow:HOST[,HOST...]</c>.
/// </summary>
public sealed record ContainerNetwork
{
    /// <summary>The engine's default network (today's behaviour).</summary>
    public static ContainerNetwork Open { get; } = new() { Mode = NetworkMode.Open };

    /// <summary>No route out; the LLM gateway only.</summary>
    public static ContainerNetwork Isolated { get; } = new() { Mode = NetworkMode.Isolated };

    /// <summary>Isolated, plus HTTPS to <paramref name="hosts"/> (<c>host</c> for port 443, <c>host:port</c>, <c>*.domain</c>) through the gateway.</summary>
    public static ContainerNetwork AllowList(params IReadOnlyList<string> hosts) => new() { Mode = NetworkMode.Isolated, EgressHosts = [.. hosts] };

    public NetworkMode Mode { get; init; }

    /// <summary>Hosts an isolated container may open HTTPS tunnels to through the LLM gateway; empty: none.</summary>
    public IReadOnlyList<string> EgressHosts { get; init; } = [];

    /// <summary>Reads <c>isolated</c>, <c>open</c> or <c>allow:HOST[,HOST...]</c>; throws <see cref="EnvironmentOptionsException"/> saying what is accepted.</summary>
    public static ContainerNetwork Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var value = text.Trim();
        if (value.Equals("isolated", StringComparison.OrdinalIgnoreCase))
        {
            return Isolated;
        }
        if (value.Equals("open", StringComparison.OrdinalIgnoreCase))
        {
            return Open;
        }
        if (value.StartsWith("allow:", StringComparison.OrdinalIgnoreCase))
        {
            var hosts = value["allow:".Length..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (hosts.Length == 0)
            {
                throw new EnvironmentOptionsException($"network '{text}' names no host; use allow:HOST[,HOST...], e.g. allow:api.github.com,pypi.org:443");
            }
            foreach (var host in hosts)
            {
                CheckHost(host, text);
            }
            return AllowList(hosts);
        }
        throw new EnvironmentOptionsException($"network '{text}' is not one of: isolated, open, allow:HOST[,HOST...] (e.g. allow:api.github.com)");
    }

    private static void CheckHost(string host, string text)
    {
        var name = host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host;
        var colon = name.LastIndexOf(':');
        if (colon >= 0)
        {
            if (!int.TryParse(name[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                throw new EnvironmentOptionsException($"network '{text}': '{host}' has no valid port; use host or host:port (1-65535)");
            }
            name = name[..colon];
        }
        if (name.Length == 0 || Uri.CheckHostName(name) == UriHostNameType.Unknown)
        {
            throw new EnvironmentOptionsException($"network '{text}': '{host}' is not a host name; use e.g. api.github.com, pypi.org:443 or *.example.com");
        }
    }

    /// <summary>Same mode and the same hosts in the same order.</summary>
    public bool Equals(ContainerNetwork? other) => other is not null && Mode == other.Mode && EgressHosts.SequenceEqual(other.EgressHosts, StringComparer.Ordinal);

    public override int GetHashCode() => HashCode.Combine(Mode, EgressHosts.Count);

    /// <summary><c>open</c>, <c>isolated</c> or <c>allow:a,b</c>, as <see cref="Parse"/> reads it.</summary>
    public override string ToString() => Mode == NetworkMode.Open ? "open" : EgressHosts.Count == 0 ? "isolated" : "allow:" + string.Join(',', EgressHosts);
}

/// <summary>
/// The LLM an environment may use, through the LLM gateway the client starts (<c>affinetes-llm-gateway</c>, one per
/// upstream, key and listen address, stopped when the client is disposed): the container gets the gateway's base URL
/// and a token of its own as <c>OPENAI_BASE_URL</c>/<c>AFFINETES_LLM_BASE_URL</c> and
/// <c>OPENAI_API_KEY</c>/<c>CHUTES_API_KEY</c>; the real key stays in the gateway. Docker mode on a local engine
/// (relayed through a bind-mounted unix socket), or Basilica mode with <see cref="PublicBaseUrl"/> (the gateway then
/// also listens on <see cref="Listen"/>, and the deployment is given the public URL).
/// </summary>
public sealed record LlmAccessOptions
{
    /// <summary>The OpenAI-compatible API the gateway forwards to, e.g. <c>https://llm.chutes.ai/v1</c> or <c>http://127.0.0.1:8001/v1</c>.</summary>
    public required string Upstream { get; init; }

    /// <summary>
    /// The variable of this process's environment holding the upstream's API key; it is handed to the gateway in its
    /// environment, never on a command line. When it is null, or the variable is unset, no key is sent (a local
    /// server without auth).
    /// </summary>
    public string? KeyVariable { get; init; } = "CHUTES_API_KEY";

    /// <summary>Models the environment may request; empty: all.</summary>
    public IReadOnlyList<string> AllowedModels { get; init; } = [];

    /// <summary>Requests in flight at once (beyond: 429).</summary>
    public int? MaxConcurrency { get; init; }

    /// <summary>Requests per minute (beyond: 429).</summary>
    public int? RequestsPerMinute { get; init; }

    /// <summary>Largest <c>max_tokens</c> per request.</summary>
    public int? MaxTokensPerRequest { get; init; }

    /// <summary>Tokens (prompt + completion) the environment may use in all; then 429 <c>insufficient_quota</c>.</summary>
    public long? BudgetTokens { get; init; }

    /// <summary>
    /// Whether the gateway keeps each task's exchanges (messages sent, replies) until the evaluation runner collects
    /// them with the task's result (default true). False: the gateway keeps only the usage figures, and no prompt or
    /// reply leaves the environment's calls.
    /// </summary>
    public bool RecordExchanges { get; init; } = true;

    /// <summary>The gateway executable; default: <c>$AFFINETES_GATEWAY_PATH</c>, next to this program, or a checkout's <c>artifacts/gateway/linux-x64</c>.</summary>
    public string? GatewayExecutable { get; init; }

    /// <summary>
    /// Basilica mode: the gateway's OpenAI-compatible base URL as environments far from this machine reach it, e.g.
    /// <c>https://llm-gw.validator.example/v1</c> behind the validator's own TLS proxy, which forwards to
    /// <see cref="Listen"/>; <c>/v1</c> is added when it does not end so. Deployments get it and a token of their
    /// own, never the key; a task's calls go to <c>{base without /v1}/tasks/{task}/v1</c>.
    /// </summary>
    public string? PublicBaseUrl { get; init; }

    /// <summary>
    /// With <see cref="PublicBaseUrl"/>: the TCP address (<c>ADDRESS:PORT</c>) the gateway listens on besides its unix
    /// socket, where the proxy of the public URL sends requests; default <see cref="DefaultListen"/>.
    /// </summary>
    public string? Listen { get; init; }

    /// <summary>Where the gateway listens for a public URL unless <see cref="Listen"/> says otherwise.</summary>
    public const string DefaultListen = "127.0.0.1:8791";

    /// <summary><see cref="PublicBaseUrl"/> ending in <c>/v1</c>; null without one.</summary>
    internal string? ResolvedPublicBaseUrl => PublicBaseUrl is not { } url ? null
        : url.TrimEnd('/').EndsWith(Protocol.GatewayRoutes.Api, StringComparison.Ordinal) ? url.TrimEnd('/') : url.TrimEnd('/') + Protocol.GatewayRoutes.Api;

    /// <summary>The TCP address the gateway listens on; null when it listens on its unix socket only.</summary>
    internal string? ResolvedListen => PublicBaseUrl is null ? Listen : Listen ?? DefaultListen;

    /// <summary>Adds every problem of the settings to <paramref name="errors"/>.</summary>
    internal void CollectErrors(List<string> errors)
    {
        if (!Uri.TryCreate(Upstream, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            errors.Add($"LLM upstream '{Upstream}' is not an http(s) URL; give e.g. https://llm.chutes.ai/v1");
        }
        if (KeyVariable is not null && (KeyVariable.Length == 0 || !KeyVariable.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')))
        {
            errors.Add($"LLM key variable '{KeyVariable}' is not an environment variable name; use e.g. CHUTES_API_KEY");
        }
        if (MaxConcurrency is < 1 || RequestsPerMinute is < 1 || MaxTokensPerRequest is < 1 || BudgetTokens is < 1)
        {
            errors.Add("LLM limits (concurrency, requests per minute, max tokens, budget) must be at least 1 when set");
        }
        if (PublicBaseUrl is { } publicUrl && (!Uri.TryCreate(publicUrl, UriKind.Absolute, out var reachable) || reachable.Scheme is not ("http" or "https")
            || reachable.Query.Length > 0 || reachable.Fragment.Length > 0))
        {
            errors.Add($"the LLM gateway's public URL '{publicUrl}' is not an http(s) base URL; give the address at which the environments reach this machine's gateway, e.g. https://llm-gw.example.org/v1");
        }
        if (ResolvedListen is { } listen && !IsListenAddress(listen))
        {
            errors.Add($"the LLM gateway's listen address '{listen}' is not ADDRESS:PORT; give e.g. 127.0.0.1:8791 (the port the public URL's proxy forwards to, 1 to 65535)");
        }
    }

    private static bool IsListenAddress(string text)
    {
        var colon = text.LastIndexOf(':');
        return colon > 0 && System.Net.IPAddress.TryParse(text[..colon].Trim('[', ']'), out _)
            && int.TryParse(text[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535;
    }
}
