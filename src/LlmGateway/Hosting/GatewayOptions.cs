using System.CommandLine;
using System.Globalization;
using System.Net;

namespace Affinetes.LlmGateway.Hosting;

/// <summary>
/// The real upstream API key. Kept out of <see cref="GatewayOptions"/> so that no record printing, log line or
/// exception message can show it: its <see cref="ToString"/> hides it.
/// </summary>
internal sealed class UpstreamKey(string value)
{
    /// <summary>The key itself; read only where the upstream request's Authorization header is set.</summary>
    public string Value { get; } = value;

    public override string ToString() => "(hidden)";
}

/// <summary>Everything the gateway is started with (command line; the upstream key from an environment variable).</summary>
internal sealed record GatewayOptions
{
    /// <summary>The environment variable the upstream key is read from unless <c>--upstream-key-env</c> names another.</summary>
    public const string DefaultKeyVariable = "AFFINETES_GATEWAY_UPSTREAM_KEY";

    /// <summary>The OpenAI-compatible API the gateway forwards to, e.g. <c>https://llm.chutes.ai/v1</c>; <c>/v1/X</c> goes to <c>{Upstream}/X</c>.</summary>
    public required Uri Upstream { get; init; }
    /// <summary>Sent as <c>Authorization: Bearer</c> upstream; null sends none (a local server without auth).</summary>
    public UpstreamKey? UpstreamKey { get; init; }
    /// <summary>TCP addresses of the OpenAI-compatible API (port 0 picks a free one).</summary>
    public IReadOnlyList<IPEndPoint> Listen { get; init; } = [];
    /// <summary>Unix socket paths of the OpenAI-compatible API (made connectable by every user: tokens guard it).</summary>
    public IReadOnlyList<string> UnixSockets { get; init; } = [];
    /// <summary>Loopback TCP address of the admin API.</summary>
    public IPEndPoint? AdminListen { get; init; }
    /// <summary>Unix socket path of the admin API (owner-only, mode 0600).</summary>
    public string? AdminUnixSocket { get; init; }
    /// <summary>JSON file of environments known from the start (<see cref="Protocol.GatewayConfig"/>).</summary>
    public string? ConfigFile { get; init; }
    /// <summary>Longest silence from the upstream (before the answer's headers, or between its bytes) before 504 / abort.</summary>
    public TimeSpan UpstreamTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Largest request body forwarded; 413 beyond.</summary>
    public long MaxBodyBytes { get; init; } = 16 * 1024 * 1024;
    /// <summary>How long requests in flight may finish after SIGTERM.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>A log line per forwarded request (off by default: it costs ~100 us of CPU per request; usage is in the admin API).</summary>
    public bool LogRequests { get; init; }

    /// <summary>
    /// Stop when standard input reaches its end. The process that starts the gateway keeps a pipe to it open; the
    /// kernel closes that pipe however that process ends (SIGKILL included), so the gateway, which holds the real
    /// key, never outlives it.
    /// </summary>
    public bool ExitWithStdin { get; init; }
}

/// <summary>The command line of <c>affinetes-llm-gateway</c>, parsed with System.CommandLine.</summary>
internal static class GatewayCommandLine
{
    private static readonly Option<string> UpstreamOption = new("--upstream")
    {
        Description = "the OpenAI-compatible API to forward to, e.g. https://llm.chutes.ai/v1 or http://127.0.0.1:8001/v1",
        Required = true,
    };
    private static readonly Option<string> KeyEnvOption = new("--upstream-key-env")
    {
        Description = $"environment variable holding the upstream API key (default {GatewayOptions.DefaultKeyVariable}; when that is unset, no key is sent)",
    };
    private static readonly Option<string[]> ListenOption = new("--listen")
    {
        Description = "ADDRESS:PORT for the OpenAI-compatible API (repeatable; port 0 picks one)",
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly Option<string[]> UnixSocketOption = new("--unix-socket")
    {
        Description = "unix socket path for the OpenAI-compatible API (repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly Option<string?> AdminListenOption = new("--admin-listen") { Description = "loopback ADDRESS:PORT for the admin API" };
    private static readonly Option<string?> AdminSocketOption = new("--admin-unix-socket") { Description = "unix socket path for the admin API (mode 0600)" };
    private static readonly Option<string?> ConfigOption = new("--config") { Description = "JSON file {\"environments\":[...]} of environments with their tokens and limits" };
    private static readonly Option<double> TimeoutOption = new("--upstream-timeout")
    {
        Description = "seconds the upstream may stay silent before the request fails (default 600)",
        DefaultValueFactory = _ => 600,
    };
    private static readonly Option<long> MaxBodyOption = new("--max-body-bytes")
    {
        Description = "largest request body, 413 beyond (default 16777216)",
        DefaultValueFactory = _ => 16 * 1024 * 1024,
    };
    private static readonly Option<bool> LogRequestsOption = new("--log-requests")
    {
        Description = "a log line per forwarded request: environment, task, path, status, latency, tokens (refusals are always logged)",
    };
    private static readonly Option<bool> ExitWithStdinOption = new("--exit-with-stdin")
    {
        Description = "stop when standard input closes (give the gateway a pipe whose writer is the process it serves: it then never outlives that process)",
    };
    private static readonly Option<double> ShutdownGraceOption = new("--shutdown-grace")
    {
        Description = "seconds requests in flight may finish after SIGTERM (default 10)",
        DefaultValueFactory = _ => 10,
    };

    /// <summary>The root command; its action is set by the caller.</summary>
    public static RootCommand Build() => new("affinetes-llm-gateway: an OpenAI-compatible gateway that gives each environment its own token and limits, and keeps the real API key to itself.")
    {
        UpstreamOption, KeyEnvOption, ListenOption, UnixSocketOption, AdminListenOption, AdminSocketOption, ConfigOption,
        TimeoutOption, MaxBodyOption, ShutdownGraceOption, LogRequestsOption, ExitWithStdinOption,
    };

    /// <summary>Options from a parsed command line and the process environment; throws <see cref="OptionsException"/> saying how to fix a bad value.</summary>
    public static GatewayOptions ToOptions(ParseResult result, System.Collections.IDictionary environment)
    {
        var upstreamText = result.GetValue(UpstreamOption)!;
        if (!Uri.TryCreate(upstreamText, UriKind.Absolute, out var upstream) || upstream.Scheme is not ("http" or "https") || upstream.Query.Length > 0)
        {
            throw new OptionsException($"--upstream '{upstreamText}' is not an http(s) base URL; use e.g. https://llm.chutes.ai/v1 or http://127.0.0.1:8001/v1");
        }
        var keyVariable = result.GetValue(KeyEnvOption);
        var keyText = environment[keyVariable ?? GatewayOptions.DefaultKeyVariable] as string;
        if (keyVariable is not null && string.IsNullOrEmpty(keyText))
        {
            throw new OptionsException($"--upstream-key-env names {keyVariable}, which is not set; export the key in it or leave the option out for an upstream without a key");
        }
        var listen = result.GetValue(ListenOption) ?? [];
        var sockets = result.GetValue(UnixSocketOption) ?? [];
        if (listen.Length == 0 && sockets.Length == 0)
        {
            throw new OptionsException("give at least one --listen ADDRESS:PORT or --unix-socket PATH for the API");
        }
        var admin = result.GetValue(AdminListenOption) is { } adminText ? Endpoint(adminText, "--admin-listen") : null;
        if (admin is not null && !IPAddress.IsLoopback(admin.Address))
        {
            throw new OptionsException($"--admin-listen {admin} is not a loopback address; the admin API issues tokens, so use 127.0.0.1:PORT or --admin-unix-socket");
        }
        var timeout = result.GetValue(TimeoutOption);
        var grace = result.GetValue(ShutdownGraceOption);
        var maxBody = result.GetValue(MaxBodyOption);
        if (timeout is <= 0 or > 86_400 || grace is < 0 or > 3600)
        {
            throw new OptionsException("--upstream-timeout and --shutdown-grace are seconds: use e.g. 600 or 2.5");
        }
        if (maxBody < 1024)
        {
            throw new OptionsException($"--max-body-bytes {maxBody} is below 1024");
        }
        return new GatewayOptions
        {
            Upstream = upstream,
            UpstreamKey = string.IsNullOrEmpty(keyText) ? null : new UpstreamKey(keyText),
            Listen = [.. listen.Select(l => Endpoint(l, "--listen"))],
            UnixSockets = [.. sockets.Select(Path.GetFullPath)],
            AdminListen = admin,
            AdminUnixSocket = result.GetValue(AdminSocketOption) is { } socket ? Path.GetFullPath(socket) : null,
            ConfigFile = result.GetValue(ConfigOption),
            UpstreamTimeout = TimeSpan.FromSeconds(timeout),
            MaxBodyBytes = maxBody,
            ShutdownGrace = TimeSpan.FromSeconds(grace),
            LogRequests = result.GetValue(LogRequestsOption),
            ExitWithStdin = result.GetValue(ExitWithStdinOption),
        };
    }

    private static IPEndPoint Endpoint(string text, string option)
    {
        var colon = text.LastIndexOf(':');
        var host = colon > 0 ? text[..colon].Trim('[', ']') : "";
        var address = host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(host, out var parsed) ? parsed : null;
        if (address is null || !int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new OptionsException($"{option} '{text}' is not ADDRESS:PORT; use e.g. 127.0.0.1:8080 (port 0 picks a free one)");
        }
        return new IPEndPoint(address, port);
    }
}

/// <summary>A setting the gateway cannot use; the message says which and how to fix it.</summary>
internal sealed class OptionsException(string message) : Exception(message);
