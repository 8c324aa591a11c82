namespace Affinetes.ActorHost.Runtimes.Sidecar;

/// <summary>Settings of the sidecar runtime: the environment's own server and how it is supervised.</summary>
internal sealed record SidecarOptions
{
    /// <summary>The command that starts the server (program and arguments, no shell unless given one).</summary>
    public required IReadOnlyList<string> Command { get; init; }

    /// <summary>The port the server listens on, on 127.0.0.1; null: a free one, given to it as <c>PORT</c> and <c>AFFINETES_PORT</c>.</summary>
    public int? Port { get; init; }

    /// <summary>Method names served when the server has no <c>/openapi.json</c>; each takes any keyword arguments.</summary>
    public IReadOnlyList<string> DeclaredMethods { get; init; } = [];

    /// <summary>How long the server may take to open its port; past it the start has failed.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Starts in a row that may end with the server exiting before it opened its port.</summary>
    public int MaxStartAttempts { get; init; } = 3;

    /// <summary>Time between SIGTERM and SIGKILL when the host stops.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The most answer bytes read from the server; past it the call fails as too large and the rest is not read.</summary>
    public long MaxResultBytes { get; init; } = Protocol.ResultLimits.DefaultMaxBytes;

    /// <summary>Environment variables the server must not see (the host's own secrets).</summary>
    public IReadOnlyList<string> HiddenVariables { get; init; } = [];
}
