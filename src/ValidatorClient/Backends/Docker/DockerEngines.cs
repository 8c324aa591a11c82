using System.Runtime.CompilerServices;
using Affinetes.ValidatorClient.Environments;
using Docker.DotNet;

namespace Affinetes.ValidatorClient.Backends.Docker;

/// <summary>
/// Docker engines as a validator's tooling sees them: the containers validators started there (found by their
/// owner label, whichever process started them, a crashed one's included), their logs, their removal, and the
/// engines' own answers (ping, an image's id). <c>afs ps</c>, <c>logs</c>, <c>stop</c> and <c>cleanup</c> are this.
/// Engines are named as in <see cref="DockerOptions.Hosts"/>: <c>local</c>, <c>unix:///path</c>,
/// <c>tcp://host:port</c>, <c>ssh://user@host[:port]</c> (through the system ssh client). Disposing closes ssh
/// connections. A failing engine is named in a <see cref="DockerEngineException"/>.
/// </summary>
public sealed class DockerEngines : IAsyncDisposable
{
    private readonly IReadOnlyList<EngineConnection> _engines;

    private DockerEngines(IReadOnlyList<EngineConnection> engines) => _engines = engines;

    /// <summary>The engines, as named, repeats removed, in order.</summary>
    public IReadOnlyList<string> Specs => [.. _engines.Select(e => e.Spec)];

    /// <summary>Connects to every engine concurrently; the first that cannot be reached fails the whole and is named.</summary>
    public static async Task<DockerEngines> ConnectAsync(IReadOnlyList<string> engines, string? sshConfigFile = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engines);
        var connecting = engines.Distinct(StringComparer.Ordinal)
            .Select(spec => OnEngineAsync(spec, () => EngineConnection.ConnectAsync(spec, sshConfigFile, cancellationToken))).ToList();
        try
        {
            return new DockerEngines(await Task.WhenAll(connecting));
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

    /// <summary>Whether an engine is on another machine (its containers' ports are not this machine's).</summary>
    public bool IsRemote(string spec) => Engine(spec).IsRemote;

    /// <summary>The engine's client, for work this API does not cover (building images with the Injector).</summary>
    public IDockerClient Client(string spec) => Engine(spec).Client;

    /// <summary>Fails with a <see cref="DockerEngineException"/> naming the engine when it does not answer a ping.</summary>
    public Task PingAsync(string spec, CancellationToken cancellationToken = default) =>
        OnEngineAsync(spec, async () =>
        {
            await Engine(spec).Client.System.PingAsync(cancellationToken);
            return true;
        });

    /// <summary>The image's id on the engine (<c>sha256:...</c>): what identifies its code, e.g. for the results cache.</summary>
    public async Task<string> ImageIdAsync(string spec, string image, CancellationToken cancellationToken = default) =>
        (await OnEngineAsync(spec, () => Engine(spec).Client.Images.InspectImageAsync(image, cancellationToken))).ID;

    /// <summary>
    /// The validators' containers on every engine (of <paramref name="environmentName"/> when given), by environment,
    /// then session, then replica. An engine reached twice (local and its own unix:// path) lists a container once.
    /// </summary>
    public async Task<IReadOnlyList<ValidatorContainer>> ListAsync(string? environmentName = null, bool includeStopped = false, CancellationToken cancellationToken = default)
    {
        var lists = await Task.WhenAll(_engines.Select(engine => OnEngineAsync(engine.Spec,
            () => OwnedContainers.ListAsync(engine.Client, engine.Spec, environmentName, includeStopped, cancellationToken))));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return [.. lists.SelectMany(list => list).Where(c => seen.Add(c.Id))];
    }

    /// <summary>A container's log lines (the last <paramref name="tail"/> of them when given), and the new ones until cancelled when <paramref name="follow"/>.</summary>
    public async IAsyncEnumerable<string> ReadLogsAsync(ValidatorContainer container, bool follow, int? tail = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(container);
        var engine = Engine(container.Engine);
        await using var reader = ContainerLogs.ReadAsync(engine.Client, container.Id, follow, tail, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (await OnEngineAsync(engine.Spec, () => reader.MoveNextAsync().AsTask()))
        {
            yield return reader.Current;
        }
    }

    /// <summary>Stops a container (its host drains calls for up to <paramref name="gracePeriod"/>; zero kills) and removes it; false when it was already gone.</summary>
    public Task<bool> RemoveAsync(ValidatorContainer container, TimeSpan gracePeriod, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(container);
        var engine = Engine(container.Engine);
        return OnEngineAsync(engine.Spec, () => OwnedContainers.RemoveAsync(engine.Client, container.Id, gracePeriod, cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var engine in _engines)
        {
            await engine.DisposeAsync();
        }
    }

    private EngineConnection Engine(string spec) => _engines.FirstOrDefault(e => e.Spec == spec)
        ?? throw new ArgumentException($"engine '{spec}' is not one of those connected ({string.Join(", ", Specs)})", nameof(spec));

    /// <summary>Runs one request against one engine, turning the engine's own failures into a <see cref="DockerEngineException"/> naming it.</summary>
    private static async Task<T> OnEngineAsync<T>(string spec, Func<Task<T>> request)
    {
        try
        {
            return await request();
        }
        // Docker.DotNet's own transport throws an AggregateException around the socket's error for tcp:// engines.
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException or AggregateException { InnerException: System.Net.Sockets.SocketException or IOException })
        {
            throw DockerEngineException.From(spec, e);
        }
    }
}

/// <summary>
/// A Docker engine answered with an error (<see cref="StatusCode"/> and its message), or could not be reached (no
/// status). <see cref="Engine"/> names it as given.
/// </summary>
public sealed class DockerEngineException(string engine, int? statusCode, string message, Exception inner) : AffinetesException(message, inner)
{
    /// <summary>The engine as named: <c>local</c>, <c>tcp://...</c>, <c>ssh://...</c>.</summary>
    public string Engine { get; } = engine;

    /// <summary>The engine's HTTP status when it answered; null when it could not be reached.</summary>
    public int? StatusCode { get; } = statusCode;

    /// <summary>Where the engine is, for messages: the local socket's path rather than <c>local</c>.</summary>
    public string Where => Engine is "local" or "localhost" or "" ? "unix:///var/run/docker.sock" : Engine;

    /// <summary>An engine that could not be reached may answer later.</summary>
    public override bool IsRetryable => StatusCode is null;

    internal static DockerEngineException From(string engine, Exception e) => e switch
    {
        DockerApiException answered => new(engine, (int)answered.StatusCode, DockerBackend.EngineMessage(answered.ResponseBody) ?? answered.Message, e),
        AggregateException { InnerExceptions.Count: 1 } one => new(engine, null, one.InnerException!.Message, e),
        _ => new(engine, null, e.Message, e),
    };
}
