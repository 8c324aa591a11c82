using System.Globalization;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// Everything the host is configured with. Each setting comes from an environment variable (<c>AFFINETES_*</c>)
/// or the equivalent command-line option (<c>--env-file</c> ...); the command line wins.
/// </summary>
internal sealed record ActorHostOptions
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

    /// <summary>Command-line options and the setting each stands for.</summary>
    public static readonly IReadOnlyDictionary<string, string> CommandLineSwitches = new Dictionary<string, string>
    {
        ["--env-file"] = "ENV_FILE",
        ["--port"] = "PORT",
        ["--bind"] = "BIND",
        ["--unix-socket"] = "UNIX_SOCKET",
        ["--llm-socket"] = "LLM_SOCKET",
        ["--llm-relay-port"] = "LLM_RELAY_PORT",
        ["--auth-token"] = "AUTH_TOKEN",
        ["--auth-token-sha256"] = "AUTH_TOKEN_SHA256",
        ["--max-body-bytes"] = "MAX_BODY_BYTES",
        ["--max-result-bytes"] = "MAX_RESULT_BYTES",
        ["--max-concurrency"] = "MAX_CONCURRENCY",
        ["--call-timeout"] = "CALL_TIMEOUT",
        ["--shutdown-grace"] = "SHUTDOWN_GRACE",
        ["--unservable-grace"] = "UNSERVABLE_GRACE",
        ["--worker-write-off"] = "WORKER_WRITE_OFF",
        ["--debug"] = "DEBUG",
        ["--strict-types"] = "STRICT_TYPES",
        ["--python-workers"] = "PYTHON_WORKERS",
        ["--python"] = "PYTHON",
        ["--check"] = "CHECK",
        ["--lease-seconds"] = "LEASE_SECONDS",
        ["--compile"] = "COMPILE",
        ["--runtime"] = "RUNTIME",
        ["--cache-dir"] = "CACHE_DIR",
        ["--sidecar-command"] = "SIDECAR_COMMAND",
        ["--sidecar-port"] = "SIDECAR_PORT",
        ["--sidecar-methods"] = "SIDECAR_METHODS",
        ["--sidecar-start-timeout"] = "SIDECAR_START_TIMEOUT",
    };

    public const string Usage = """
        affinetes-host: serves an environment's Actor (Python env.py, C# Actor.cs) or its own server (sidecar) over HTTP.
        Options (each also an environment variable AFFINETES_<NAME>):
          --env-file PATH        the actor: env.py or Actor.cs (ENV_FILE, default /app/env.py)
          --runtime NAME         python, csharp or sidecar (RUNTIME; default: sidecar when a sidecar command is
                                 set, csharp for a .cs env file, else python)
          --port N               port to listen on (PORT, default 8000)
          --bind ADDRESS         address to listen on (BIND, default all interfaces)
          --unix-socket PATH     serve on this unix socket as well (UNIX_SOCKET; made connectable by every user)
          --llm-socket PATH      the LLM gateway's unix socket (LLM_SOCKET), relayed to from 127.0.0.1:--llm-relay-port
          --llm-relay-port N     port on 127.0.0.1 whose connections go to --llm-socket (LLM_RELAY_PORT)
          --auth-token TOKEN     require 'Authorization: Bearer TOKEN' on all but GET /health (AUTH_TOKEN)
          --auth-token-sha256 H  the same, given as the token's SHA-256 in hex (AUTH_TOKEN_SHA256; preferred)
          --max-body-bytes N     request body limit, 413 beyond (MAX_BODY_BYTES, default 4194304)
          --max-result-bytes N   result limit: a larger result is refused as result_too_large, never sent
                                 (MAX_RESULT_BYTES, default 16777216; a caller may ask for less per call)
          --max-concurrency N    calls in flight, 503 beyond (MAX_CONCURRENCY, default 1024)
          --call-timeout S       default server-side deadline in seconds (CALL_TIMEOUT, default none)
          --shutdown-grace S     drain time after SIGTERM (SHUTDOWN_GRACE, default 10)
          --unservable-grace S   exit (code 4) after S seconds unable to serve (UNSERVABLE_GRACE, default 30)
          --worker-write-off S   replace a worker whose interrupted call runs S more seconds (WORKER_WRITE_OFF, default 2)
          --debug true           include tracebacks in errors (DEBUG)
          --strict-types true    400 for an argument whose JSON type contradicts its annotation (STRICT_TYPES)
          --python-workers N     threads entering Python (PYTHON_WORKERS, default 4)
          --python PATH          interpreter to take libpython and sys.path from (PYTHON, default python3)
          --check true           load the actor (or start the sidecar), check it can be served, exit (CHECK)
          --compile true         compile Actor.cs into the compile cache, exit (COMPILE; image builds run it)
          --cache-dir PATH       compiled C# actors (CACHE_DIR, default ~/.cache/affinetes/actors)
          --sidecar-command CMD  the sidecar's command: a JSON array, or a line run by /bin/sh -c (SIDECAR_COMMAND)
          --sidecar-port N       the port it listens on (SIDECAR_PORT; default a free one, given to it as PORT)
          --sidecar-methods A,B  its methods when it serves no /openapi.json (SIDECAR_METHODS)
          --sidecar-start-timeout S  time to open its port (SIDECAR_START_TIMEOUT, default 60)
          --lease-seconds S      stop when no request came for S seconds (LEASE_SECONDS; set by clients that remove what they start)
          --health               ask a running host's /health on PORT, exit 0 when ready (HEALTHCHECK)
        """;

    /// <summary>Reads the options from environment variables and command-line arguments.</summary>
    public static ActorHostOptions Load(IReadOnlyList<string> args, System.Collections.IDictionary? environment = null)
    {
        var normalized = args.Select(a => a is "--debug" or "--check" or "--strict-types" or "--compile" ? a + "=true" : a).ToArray();
        var unknown = normalized.Where(a => a.StartsWith("--", StringComparison.Ordinal))
            .Select(a => a.Split('=')[0]).FirstOrDefault(a => !CommandLineSwitches.ContainsKey(a));
        if (unknown is not null)
        {
            throw new OptionsException($"unknown option {unknown}\n{Usage}");
        }
        var builder = new ConfigurationBuilder();
        var env = environment ?? Environment.GetEnvironmentVariables();
        var fromEnvironment = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (System.Collections.DictionaryEntry entry in env)
        {
            var key = (string)entry.Key;
            if (key.StartsWith("AFFINETES_", StringComparison.Ordinal))
            {
                fromEnvironment[key["AFFINETES_".Length..]] = (string?)entry.Value;
            }
        }
        builder.AddInMemoryCollection(fromEnvironment);
        try
        {
            builder.AddCommandLine(normalized, CommandLineSwitches.ToDictionary(k => k.Key, k => k.Value));
        }
        catch (FormatException e)
        {
            throw new OptionsException($"{e.Message}\n{Usage}");
        }
        return FromConfiguration(builder.Build());
    }

    private static ActorHostOptions FromConfiguration(IConfiguration c)
    {
        var defaults = new ActorHostOptions();
        var options = new ActorHostOptions
        {
            EnvFile = Text(c, "ENV_FILE") ?? defaults.EnvFile,
            Port = (int)(Integer(c, "PORT", 0, 65535) ?? defaults.Port),
            Bind = Text(c, "BIND"),
            UnixSocket = Text(c, "UNIX_SOCKET"),
            LlmSocket = Text(c, "LLM_SOCKET"),
            LlmRelayPort = (int?)Integer(c, "LLM_RELAY_PORT", 1, 65535),
            AuthToken = Text(c, "AUTH_TOKEN"),
            AuthTokenSha256 = TokenHash(c, Text(c, "AUTH_TOKEN")),
            MaxBodyBytes = Integer(c, "MAX_BODY_BYTES", 1024, int.MaxValue) ?? defaults.MaxBodyBytes,
            MaxResultBytes = Integer(c, "MAX_RESULT_BYTES", 1024, int.MaxValue - 64) ?? defaults.MaxResultBytes,
            MaxConcurrentCalls = (int)(Integer(c, "MAX_CONCURRENCY", 1, 1_000_000) ?? defaults.MaxConcurrentCalls),
            CallTimeout = Seconds(c, "CALL_TIMEOUT"),
            ShutdownGrace = Seconds(c, "SHUTDOWN_GRACE") ?? defaults.ShutdownGrace,
            UnservableGrace = Seconds(c, "UNSERVABLE_GRACE") ?? defaults.UnservableGrace,
            WorkerWriteOff = Seconds(c, "WORKER_WRITE_OFF") ?? defaults.WorkerWriteOff,
            Debug = Flag(c, "DEBUG"),
            StrictTypes = Flag(c, "STRICT_TYPES"),
            PythonWorkers = (int)(Integer(c, "PYTHON_WORKERS", 1, 256) ?? defaults.PythonWorkers),
            PythonExecutable = Text(c, "PYTHON"),
            CheckOnly = Flag(c, "CHECK"),
            Lease = Seconds(c, "LEASE_SECONDS"),
            CompileOnly = Flag(c, "COMPILE"),
            CacheDirectory = Text(c, "CACHE_DIR") ?? defaults.CacheDirectory,
            SidecarCommand = Command(c, "SIDECAR_COMMAND"),
            SidecarPort = (int?)Integer(c, "SIDECAR_PORT", 1, 65535),
            SidecarMethods = Text(c, "SIDECAR_METHODS")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [],
            SidecarStartTimeout = Seconds(c, "SIDECAR_START_TIMEOUT") ?? defaults.SidecarStartTimeout,
        };
        if ((options.LlmSocket is null) != (options.LlmRelayPort is null))
        {
            throw new OptionsException("AFFINETES_LLM_SOCKET and AFFINETES_LLM_RELAY_PORT go together: set both (the gateway's socket and the port on 127.0.0.1 to relay from) or neither");
        }
        if (options.LlmRelayPort == options.Port)
        {
            throw new OptionsException($"AFFINETES_LLM_RELAY_PORT is {options.Port}, the host's own port; choose another");
        }
        var named = Text(c, "RUNTIME")?.ToLowerInvariant();
        if (named is not null && !Runtimes.Contains(named))
        {
            throw new OptionsException($"AFFINETES_RUNTIME / --runtime is '{named}'; use one of {string.Join(", ", Runtimes)}");
        }
        return named is null ? options : options with { Runtime = named };
    }

    /// <summary>A JSON array of strings (exec form), or a command line for <c>/bin/sh -c</c> (shell form), as in a Dockerfile.</summary>
    private static string[] Command(IConfiguration c, string key)
    {
        var text = Text(c, key);
        if (text is null)
        {
            return [];
        }
        if (!text.StartsWith('['))
        {
            return ["/bin/sh", "-c", text];
        }
        try
        {
            var parts = System.Text.Json.JsonSerializer.Deserialize(text, OptionsJson.Default.StringArray);
            if (parts is { Length: > 0 } && parts.All(p => !string.IsNullOrEmpty(p)))
            {
                return parts;
            }
        }
        catch (System.Text.Json.JsonException)
        {
        }
        throw new OptionsException($"AFFINETES_{key} / --{key.ToLowerInvariant().Replace('_', '-')} is '{text}'; give a JSON array of strings, e.g. [\"python3\", \"server.py\"], or a shell command line");
    }

    private static string DefaultCacheDirectory()
    {
        var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home ? Path.Combine(home, ".cache")
            : Path.GetTempPath();
        return Path.Combine(root, "affinetes", "actors");
    }

    private static string? TokenHash(IConfiguration c, string? plain)
    {
        var text = Text(c, "AUTH_TOKEN_SHA256");
        if (text is null)
        {
            return null;
        }
        if (text.Length != 64 || !text.All(char.IsAsciiHexDigit))
        {
            throw new OptionsException($"{HostEnvironment.AuthTokenSha256} / --auth-token-sha256 must be the token's SHA-256 as 64 hex digits (e.g. from `printf %s TOKEN | sha256sum`); it has {text.Length} characters");
        }
        var hash = text.ToLowerInvariant();
        if (plain is not null && HostEnvironment.HashAuthToken(plain) != hash)
        {
            throw new OptionsException($"{HostEnvironment.AuthToken} and {HostEnvironment.AuthTokenSha256} are both set and do not agree; set only the hash");
        }
        return hash;
    }

    private static string? Text(IConfiguration c, string key) => string.IsNullOrWhiteSpace(c[key]) ? null : c[key]!.Trim();

    private static long? Integer(IConfiguration c, string key, long min, long max)
    {
        var text = Text(c, key);
        if (text is null)
        {
            return null;
        }
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new OptionsException($"AFFINETES_{key} / --{key.ToLowerInvariant().Replace('_', '-')} is '{text}'; use a whole number from {min} to {max}");
        }
        return value;
    }

    private static TimeSpan? Seconds(IConfiguration c, string key)
    {
        var text = Text(c, key);
        if (text is null)
        {
            return null;
        }
        if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value <= 0 || value > 86_400)
        {
            throw new OptionsException($"AFFINETES_{key} / --{key.ToLowerInvariant().Replace('_', '-')} is '{text}'; use seconds, e.g. '30' or '2.5'");
        }
        return TimeSpan.FromSeconds(value);
    }

    private static bool Flag(IConfiguration c, string key) => Text(c, key)?.ToLowerInvariant() switch
    {
        null or "0" or "false" or "no" or "off" => false,
        "1" or "true" or "yes" or "on" => true,
        var other => throw new OptionsException($"AFFINETES_{key} / --{key.ToLowerInvariant().Replace('_', '-')} is '{other}'; use true or false"),
    };
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class OptionsJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>A setting has a value the host cannot use; the message says which and how to fix it.</summary>
internal sealed class OptionsException(string message) : Exception(message);
