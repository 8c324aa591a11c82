using System.CommandLine;
using Affinetes.ValidatorClient.Backends.Docker;

namespace Affinetes.Afs.Cli;

/// <summary>
/// The Docker engines a command works on: each <c>--host</c> given, else the engine the docker CLI would use
/// (<c>$DOCKER_HOST</c>, <c>$DOCKER_CONTEXT</c>, the current docker context; see <see cref="DockerContext"/>), else the
/// local socket. Engines are reached through the library's <see cref="DockerEngines"/> (ssh:// through the system ssh
/// client, with <c>$AFFINETES_SSH_CONFIG</c> as its <c>-F</c> when set), and a failing engine is named in the error.
/// </summary>
internal static class Engines
{
    /// <summary>The engine when no <c>--host</c> is given: the docker CLI's choice (<see cref="DockerContext.DefaultEngine()"/>).</summary>
    public static string DefaultSpec => DockerContext.DefaultEngine();

    /// <summary>ssh's <c>-F</c> for ssh:// engines, from <c>$AFFINETES_SSH_CONFIG</c>.</summary>
    public static string? SshConfigFile => Environment.GetEnvironmentVariable("AFFINETES_SSH_CONFIG") is { Length: > 0 } file ? file : null;

    /// <summary>The repeatable <c>--host</c> option.</summary>
    public static Option<string[]> HostOption(string purpose) => new("--host")
    {
        Description = $"Docker engine: local, unix:///path, tcp://host:port, ssh://user@host ({purpose}); default: $DOCKER_HOST, else the current docker context, else local",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>The engines named by <paramref name="option"/>, else the default one; repeats removed.</summary>
    public static IReadOnlyList<string> Resolve(ParseResult result, Option<string[]> option) =>
        result.GetValue(option) is { Length: > 0 } given ? [.. given.Distinct(StringComparer.Ordinal)] : [DefaultSpec];

    /// <summary>Where an engine is, for messages: the local socket's path rather than <c>local</c>.</summary>
    public static string Describe(string spec) => spec is "local" or "localhost" or "" ? "unix:///var/run/docker.sock" : spec;

    /// <summary>Connects to every engine concurrently; the first that cannot be reached fails the whole (and is named).</summary>
    public static Task<DockerEngines> ConnectAsync(IReadOnlyList<string> specs, CancellationToken cancellationToken) =>
        DockerEngines.ConnectAsync(specs, SshConfigFile, cancellationToken);

    /// <summary>
    /// Fails with a <see cref="DockerEngineException"/> naming the engine when it does not answer a ping: commands that
    /// would otherwise count an engine outage against what they start (afs score would score every miner 0) check first.
    /// </summary>
    public static async Task RequireReachableAsync(string spec, CancellationToken cancellationToken)
    {
        await using var engines = await ConnectAsync([spec], cancellationToken);
        await engines.PingAsync(spec, cancellationToken);
    }
}
