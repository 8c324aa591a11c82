using Affinetes.Protocol;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// Everything the host is configured with. Each setting comes from an environment variable (<c>AFFINETES_*</c>)
/// or the equivalent command-line option (<c>--env-file</c> ...); the command line wins. The defaults are the
/// properties' own; <see cref="Table"/> describes each setting once, and the switches, the usage text and the
/// binding are made from it.
/// </summary>
internal sealed partial record ActorHostOptions
{
    public string EnvFile { get; init; } = "/app/env.py";
    public int Port { get; init; } = HostEnvironment.DefaultPort;
    /// <summary>Address to listen on; null means every interface.</summary>
    public string? Bind { get; init; }
    /// <summary>A unix socket to serve on as well (a container without network is reached through it).</summary>
    public string? UnixSocket { get; init; }
    /// <summary>The LLM gateway's unix socket, relayed to from 127.0.0.1:<see cref="LlmRelayPort"/>.</summary>
    public string? LlmSocket { get; init; }
    /// <summary>The port on 127.0.0.1 relayed to <see cref="LlmSocket"/>.</summary>
    public int? LlmRelayPort { get; init; }
    /// <summary>When set, every endpoint but <c>GET /health</c> requires <c>Authorization: Bearer</c> this token.</summary>
    public string? AuthToken { get; init; }
    /// <summary>The token's SHA-256 (64 hex digits) instead of the token: the way a client should configure it.</summary>
    public string? AuthTokenSha256 { get; init; }

    /// <summary>The SHA-256 presented tokens must hash to; null when the host requires none.</summary>
    public byte[]? ExpectedTokenHash => AuthTokenSha256 is { } hex ? Convert.FromHexString(hex)
        : AuthToken is { } token ? Convert.FromHexString(HostEnvironment.HashAuthToken(token)) : null;
    public long MaxBodyBytes { get; init; } = 4 * 1024 * 1024;
    /// <summary>The most bytes a result may have; a larger one is refused (<see cref="ErrorCodes.ResultTooLarge"/>), never sent.</summary>
    public long MaxResultBytes { get; init; } = ResultLimits.DefaultMaxBytes;
    /// <summary>Calls in flight at once; beyond it the host answers 503 with Retry-After instead of queueing.</summary>
    public int MaxConcurrentCalls { get; init; } = 1024;
    /// <summary>Default server-side deadline of a call; a request can set its own with the timeout header.</summary>
    public TimeSpan? CallTimeout { get; init; }
    /// <summary>How long in-flight calls may finish after SIGTERM.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How long the host stays up while it cannot serve (every worker stuck, the event loop stalled) before it exits with code 4.</summary>
    public TimeSpan UnservableGrace { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long an interrupted plain method may run on past its deadline before its worker is written off and replaced.</summary>
    public TimeSpan WorkerWriteOff { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Tracebacks in error answers.</summary>
    public bool Debug { get; init; }
    /// <summary>Reject arguments whose JSON type contradicts the annotation (off: values pass through, as in the original).</summary>
    public bool StrictTypes { get; init; }
    public int PythonWorkers { get; init; } = 4;
    public string? PythonExecutable { get; init; }
    /// <summary>
    /// When set, the host stops once no request (but an unauthenticated <c>/health</c>) came for this long: the client
    /// that started the container renews it while it lives, so a client killed with SIGKILL leaves nothing running.
    /// </summary>
    public TimeSpan? Lease { get; init; }
    /// <summary>Load env.py, check it defines an Actor, and exit (used by image builds).</summary>
    public bool CheckOnly { get; init; }
    /// <summary>Compile a C# actor into the compile cache and exit (the image build's step).</summary>
    public bool CompileOnly { get; init; }
    /// <summary>
    /// <c>python</c>, <c>csharp</c> or <c>sidecar</c>; when not given: sidecar when a sidecar command is set, csharp for
    /// a <c>.cs</c> env file, else python.
    /// </summary>
    public string Runtime
    {
        get => _runtime ?? (SidecarCommand.Count > 0 ? RuntimeNames.Sidecar
            : EnvFile.EndsWith(".cs", StringComparison.OrdinalIgnoreCase) ? RuntimeNames.CSharp
            : RuntimeNames.Python);
        init => _runtime = value;
    }

    private readonly string? _runtime;
    /// <summary>Where compiled C# actors are kept, keyed by the hash of their sources.</summary>
    public string CacheDirectory { get; init; } = DefaultCacheDirectory();
    /// <summary>The sidecar's command: program and arguments.</summary>
    public IReadOnlyList<string> SidecarCommand { get; init; } = [];
    /// <summary>The sidecar's port on 127.0.0.1; null: a free one, passed to it as PORT.</summary>
    public int? SidecarPort { get; init; }
    /// <summary>Methods of a sidecar that serves no OpenAPI document.</summary>
    public IReadOnlyList<string> SidecarMethods { get; init; } = [];
    public TimeSpan SidecarStartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The runtimes the host has.</summary>
    public static readonly IReadOnlyList<string> Runtimes = [RuntimeNames.Python, RuntimeNames.CSharp, RuntimeNames.Sidecar];

    private static string? _usage;

    /// <summary>The usage text, made from <see cref="Table"/> (when first asked: the table is another file's static).</summary>
    public static string Usage => _usage ??= MakeUsage();

    /// <summary>
    /// Reads the options from the process's variables (<paramref name="variables"/>: the process environment when
    /// null) and command-line arguments.
    /// </summary>
    public static ActorHostOptions Load(IReadOnlyList<string> args, System.Collections.IDictionary? variables = null)
    {
        var flags = Table.Where(o => o.IsFlag).Select(o => o.Switch).ToHashSet(StringComparer.Ordinal);
        var normalized = args.Select(a => flags.Contains(a) ? a + "=true" : a).ToArray();
        var switches = Table.ToDictionary(o => o.Switch, o => o.Name, StringComparer.Ordinal);
        var unknown = normalized.Where(a => a.StartsWith("--", StringComparison.Ordinal))
            .Select(a => a.Split('=')[0]).FirstOrDefault(a => !switches.ContainsKey(a));
        if (unknown is not null)
        {
            throw new OptionsException($"unknown option {unknown}\n{Usage}");
        }
        var builder = new ConfigurationBuilder();
        var fromVariables = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (System.Collections.DictionaryEntry entry in variables ?? Environment.GetEnvironmentVariables())
        {
            var key = (string)entry.Key;
            if (key.StartsWith("AFFINETES_", StringComparison.Ordinal))
            {
                fromVariables[key["AFFINETES_".Length..]] = (string?)entry.Value;
            }
        }
        builder.AddInMemoryCollection(fromVariables);
        try
        {
            builder.AddCommandLine(normalized, switches);
        }
        catch (FormatException e)
        {
            throw new OptionsException($"{e.Message}\n{Usage}");
        }
        var configuration = builder.Build();
        var options = new ActorHostOptions();
        foreach (var option in Table)
        {
            if (configuration[option.Name] is { } text && !string.IsNullOrWhiteSpace(text))
            {
                options = option.Bind(options, new OptionText(option.Name, text.Trim()));
            }
        }
        return Validated(options);
    }

    /// <summary>The checks between settings, once all are bound.</summary>
    private static ActorHostOptions Validated(ActorHostOptions options)
    {
        if ((options.LlmSocket is null) != (options.LlmRelayPort is null))
        {
            throw new OptionsException("AFFINETES_LLM_SOCKET and AFFINETES_LLM_RELAY_PORT go together: set both (the gateway's socket and the port on 127.0.0.1 to relay from) or neither");
        }
        if (options.LlmRelayPort == options.Port)
        {
            throw new OptionsException($"AFFINETES_LLM_RELAY_PORT is {options.Port}, the host's own port; choose another");
        }
        if (options.AuthToken is { } plain && options.AuthTokenSha256 is { } hash && HostEnvironment.HashAuthToken(plain) != hash)
        {
            throw new OptionsException($"{HostEnvironment.AuthToken} and {HostEnvironment.AuthTokenSha256} are both set and do not agree; set only the hash");
        }
        return options;
    }

    private static string MakeUsage()
    {
        const int helpColumn = 25;
        const int width = 118;
        var defaults = new ActorHostOptions();
        var usage = new System.Text.StringBuilder("""
            affinetes-host: serves an evaluation environment's Actor (Python env.py, C# Actor.cs) or its own server (sidecar) over HTTP.
            Options (each also an environment variable AFFINETES_<NAME>):

            """);
        foreach (var option in Table)
        {
            var head = option.IsFlag ? $"  {option.Switch}" : $"  {option.Switch} {option.Value}";
            var shown = option.DefaultText ?? option.Show(defaults);
            var text = $"{option.Help} ({option.Name}{(shown is null ? "" : $", default {shown}")})";
            var line = head.Length + 2 > helpColumn ? head + "  " : head.PadRight(helpColumn);
            foreach (var word in text.Split(' '))
            {
                if (line.Length + word.Length > width && line.Length > helpColumn)
                {
                    usage.AppendLine(line.TrimEnd());
                    line = new string(' ', helpColumn);
                }
                line += word + " ";
            }
            usage.AppendLine(line.TrimEnd());
        }
        // A command, not a setting: it asks another host.
        usage.Append("  --health".PadRight(helpColumn) + "ask a running host's /health on PORT, exit 0 when ready (the image's HEALTHCHECK)");
        return usage.ToString();
    }

    private static string DefaultCacheDirectory()
    {
        var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home ? Path.Combine(home, ".cache")
            : Path.GetTempPath();
        return Path.Combine(root, "affinetes", "actors");
    }
}
