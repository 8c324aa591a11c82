using Affinetes.Protocol;

namespace Affinetes.ActorHost.Hosting;

internal sealed partial record ActorHostOptions
{
    /// <summary>Every setting, in the order the usage text lists them.</summary>
    public static readonly IReadOnlyList<HostOption> Table =
    [
        new("ENV_FILE", "PATH", "the actor: env.py or Actor.cs",
            (o, v) => o with { EnvFile = v.Text }, o => o.EnvFile),
        new("RUNTIME", "NAME", "python, csharp or sidecar",
            (o, v) => o with { Runtime = RuntimeName(v) }, o => o._runtime,
            "sidecar when a sidecar command is set, csharp for a .cs env file, else python"),
        new("PORT", "N", "port to listen on",
            (o, v) => o with { Port = (int)v.Whole(0, 65535) }, o => o.Port),
        new("BIND", "ADDRESS", "address to listen on",
            (o, v) => o with { Bind = v.Text }, o => o.Bind, "all interfaces"),
        new("UNIX_SOCKET", "PATH", "serve on this unix socket as well (made connectable by every user)",
            (o, v) => o with { UnixSocket = v.Text }, o => o.UnixSocket),
        new("LLM_SOCKET", "PATH", "the LLM gateway's unix socket, relayed to from 127.0.0.1:--llm-relay-port",
            (o, v) => o with { LlmSocket = v.Text }, o => o.LlmSocket),
        new("LLM_RELAY_PORT", "N", "port on 127.0.0.1 whose connections go to --llm-socket",
            (o, v) => o with { LlmRelayPort = (int)v.Whole(1, 65535) }, o => o.LlmRelayPort),
        new("AUTH_TOKEN", "TOKEN", "require 'Authorization: Bearer TOKEN' on all but GET /health",
            (o, v) => o with { AuthToken = v.Text }, o => o.AuthToken),
        new("AUTH_TOKEN_SHA256", "H", "the same, given as the token's SHA-256 in hex (preferred)",
            (o, v) => o with { AuthTokenSha256 = TokenHash(v) }, o => o.AuthTokenSha256),
        new("MAX_BODY_BYTES", "N", "request body limit, 413 beyond",
            (o, v) => o with { MaxBodyBytes = v.Whole(1024, int.MaxValue) }, o => o.MaxBodyBytes),
        new("MAX_RESULT_BYTES", "N", "result limit: a larger result is refused as result_too_large, never sent; a caller may ask for less per call",
            (o, v) => o with { MaxResultBytes = v.Whole(1024, int.MaxValue - 64) }, o => o.MaxResultBytes),
        new("MAX_CONCURRENCY", "N", "calls in flight, 503 beyond",
            (o, v) => o with { MaxConcurrentCalls = (int)v.Whole(1, 1_000_000) }, o => o.MaxConcurrentCalls),
        new("CALL_TIMEOUT", "S", "default server-side deadline in seconds",
            (o, v) => o with { CallTimeout = v.Seconds() }, o => o.CallTimeout, "none"),
        new("SHUTDOWN_GRACE", "S", "drain time after SIGTERM",
            (o, v) => o with { ShutdownGrace = v.Seconds() }, o => o.ShutdownGrace),
        new("UNSERVABLE_GRACE", "S", "exit (code 4) after S seconds unable to serve",
            (o, v) => o with { UnservableGrace = v.Seconds() }, o => o.UnservableGrace),
        new("WORKER_WRITE_OFF", "S", "replace a worker whose interrupted call runs S more seconds",
            (o, v) => o with { WorkerWriteOff = v.Seconds() }, o => o.WorkerWriteOff),
        new("DEBUG", null, "include tracebacks in errors",
            (o, v) => o with { Debug = v.Flag() }, o => o.Debug),
        new("STRICT_TYPES", null, "400 for an argument whose JSON type contradicts its annotation",
            (o, v) => o with { StrictTypes = v.Flag() }, o => o.StrictTypes),
        new("PYTHON_WORKERS", "N", "threads running plain Python methods",
            (o, v) => o with { PythonWorkers = (int)v.Whole(1, 256) }, o => o.PythonWorkers),
        new("PYTHON", "PATH", "interpreter to take libpython and sys.path from",
            (o, v) => o with { PythonExecutable = v.Text }, o => o.PythonExecutable, "$VIRTUAL_ENV/bin/python, else python3"),
        new("CHECK", null, "load the actor (or start the sidecar), check it can be served, exit",
            (o, v) => o with { CheckOnly = v.Flag() }, o => o.CheckOnly),
        new("COMPILE", null, "compile Actor.cs into the compile cache, exit (image builds run it)",
            (o, v) => o with { CompileOnly = v.Flag() }, o => o.CompileOnly),
        new("CACHE_DIR", "PATH", "compiled C# actors",
            (o, v) => o with { CacheDirectory = v.Text }, o => o.CacheDirectory, "~/.cache/affinetes/actors"),
        new("SIDECAR_COMMAND", "CMD", "the sidecar's command: a JSON array, or a line run by /bin/sh -c",
            (o, v) => o with { SidecarCommand = v.Command() }, o => o.SidecarCommand),
        new("SIDECAR_PORT", "N", "the port it listens on",
            (o, v) => o with { SidecarPort = (int)v.Whole(1, 65535) }, o => o.SidecarPort, "a free one, given to it as PORT"),
        new("SIDECAR_METHODS", "A,B", "its methods when it serves no /openapi.json",
            (o, v) => o with { SidecarMethods = v.List() }, o => o.SidecarMethods),
        new("SIDECAR_START_TIMEOUT", "S", "time to open its port",
            (o, v) => o with { SidecarStartTimeout = v.Seconds() }, o => o.SidecarStartTimeout),
        new("LEASE_SECONDS", "S", "stop when no request came for S seconds (set by clients that remove what they start)",
            (o, v) => o with { Lease = v.Seconds() }, o => o.Lease),
    ];

    private static string RuntimeName(OptionText value)
    {
        var named = value.Text.ToLowerInvariant();
        return Runtimes.Contains(named)
            ? named
            : throw new OptionsException($"AFFINETES_RUNTIME / --runtime is '{named}'; use one of {string.Join(", ", Runtimes)}");
    }

    private static string TokenHash(OptionText value)
    {
        var text = value.Text;
        if (text.Length != 64 || !text.All(char.IsAsciiHexDigit))
        {
            throw new OptionsException($"{HostEnvironment.AuthTokenSha256} / --auth-token-sha256 must be the token's SHA-256 as 64 hex digits (e.g. from `printf %s TOKEN | sha256sum`); it has {text.Length} characters");
        }
        return text.ToLowerInvariant();
    }
}
