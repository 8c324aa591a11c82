using System.CommandLine;
using Affinetes.ValidatorClient.Backends.Docker;
using Docker.DotNet;

namespace Affinetes.Afs.Cli;

/// <summary>
/// The Docker engines a command works on: each <c>--host</c> given, else <c>$DOCKER_HOST</c>, else the local socket.
/// Engines are reached the way the ValidatorClient reaches them (ssh:// through the system ssh client, with
/// <c>$AFFINETES_SSH_CONFIG</c> as its <c>-F</c> when set), and a failing engine is named in the error.
/// </summary>
internal static class Engines
{
    /// <summary>The engine when no <c>--host</c> is given: <c>$DOCKER_HOST</c> when set, else <c>local</c>.</summary>
    public static string DefaultSpec => Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } host ? host : "local";

    /// <summary>ssh's <c>-F</c> for ssh:// engines, from <c>$AFFINETES_SSH_CONFIG</c>.</summary>
    public static string? SshConfigFile => Environment.GetEnvironmentVariable("AFFINETES_SSH_CONFIG") is { Length: > 0 } file ? file : null;

    /// <summary>The repeatable <c>--host</c> option.</summary>
    public static Option<string[]> HostOption(string purpose) => new("--host")
    {
        Description = $"Docker engine: local, unix:///path, tcp://host:port, ssh://user@host ({purpose}); default $DOCKER_HOST or local",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>The engines named by <paramref name="option"/>, else the default one; repeats removed.</summary>
    public static IReadOnlyList<string> Resolve(ParseResult result, Option<string[]> option) =>
        result.GetValue(option) is { Length: > 0 } given ? [.. given.Distinct(StringComparer.Ordinal)] : [DefaultSpec];

    /// <summary>Where an engine is, for messages: the local socket's path rather than <c>local</c>.</summary>
    public static string Describe(string spec) => spec is "local" or "localhost" or "" ? "unix:///var/run/docker.sock" : spec;

    /// <summary>Connects to every engine concurrently; the first that cannot be reached fails the whole (and is named).</summary>
    public static async Task<EngineSet> ConnectAsync(IReadOnlyList<string> specs, CancellationToken cancellationToken)
    {
        var connecting = specs.Select(spec => OnEngineAsync(spec, () => EngineConnection.ConnectAsync(spec, SshConfigFile, cancellationToken))).ToList();
        try
        {
            return new EngineSet(await Task.WhenAll(connecting));
        }
        catch
        {
            foreach (var connected in connecting.Where(t => t.IsCompletedSuccessfully))
            {
                await connected.Result.DisposeAsync();
            }
            throw;
        }
    }

    /// <summary>
    /// Fails with an <see cref="EngineException"/> naming the engine when it does not answer a ping: commands that
    /// would otherwise count an engine outage against what they start (afs score would score every miner 0) check first.
    /// </summary>
    public static async Task RequireReachableAsync(string spec, CancellationToken cancellationToken)
    {
        await using var engines = await ConnectAsync([spec], cancellationToken);
        await OnEngineAsync(spec, async () =>
        {
            await engines.All[0].Client.System.PingAsync(cancellationToken);
            return true;
        });
    }

    /// <summary>Runs one request against one engine, turning the engine's own failures into an <see cref="EngineException"/> naming it.</summary>
    public static async Task<T> OnEngineAsync<T>(string spec, Func<Task<T>> request)
    {
        try
        {
            return await request();
        }
        // Docker.DotNet's own transport throws an AggregateException around the socket's error for tcp:// engines.
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException or AggregateException { InnerException: System.Net.Sockets.SocketException or IOException })
        {
            throw new EngineException(spec, e);
        }
    }
}

/// <summary>Connected engines; disposing closes ssh connections.</summary>
internal sealed class EngineSet(IReadOnlyList<EngineConnection> engines) : IAsyncDisposable
{
    public IReadOnlyList<EngineConnection> All => engines;

    /// <summary>Whether containers should say which engine they are on.</summary>
    public bool Several => engines.Count > 1;

    /// <summary>
    /// The validators' containers on every engine (of <paramref name="environmentName"/> when given). An engine reached
    /// twice (local and its own unix:// path, say) lists a container once, under the first engine.
    /// </summary>
    public async Task<IReadOnlyList<EngineContainer>> ListAsync(string? environmentName, bool includeStopped, CancellationToken cancellationToken)
    {
        var lists = await Task.WhenAll(engines.Select(engine => Engines.OnEngineAsync(engine.Spec,
            () => OwnedContainers.ListAsync(engine.Client, environmentName, includeStopped, cancellationToken))));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return [.. engines.Zip(lists).SelectMany(pair => pair.Second.Select(c => new EngineContainer(pair.First, c))).Where(c => seen.Add(c.Container.Id))];
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var engine in engines)
        {
            await engine.DisposeAsync();
        }
    }
}

/// <summary>A validator's container and the engine it is on.</summary>
internal sealed record EngineContainer(EngineConnection Engine, OwnedContainer Container)
{
    /// <summary>Its log lines (the last <paramref name="tail"/> of them when given), and the new ones until cancelled when <paramref name="follow"/>.</summary>
    public async IAsyncEnumerable<string> ReadLogsAsync(bool follow, int? tail, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var reader = ContainerLogs.ReadAsync(Engine.Client, Container.Id, follow, tail, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (await Engines.OnEngineAsync(Engine.Spec, () => reader.MoveNextAsync().AsTask()))
        {
            yield return reader.Current;
        }
    }

    /// <summary>Stops (draining for up to <paramref name="gracePeriod"/>; zero kills) and removes it; false when it was already gone.</summary>
    public Task<bool> RemoveAsync(TimeSpan gracePeriod, CancellationToken cancellationToken) =>
        Engines.OnEngineAsync(Engine.Spec, () => OwnedContainers.RemoveAsync(Engine.Client, Container.Id, gracePeriod, cancellationToken));
}

/// <summary>A Docker engine failed or could not be reached; <see cref="Spec"/> names it.</summary>
internal sealed class EngineException(string spec, Exception inner)
    : Exception(inner is AggregateException { InnerExceptions.Count: 1 } one ? one.InnerException!.Message : inner.Message, inner)
{
    public string Spec { get; } = spec;
}
