using Affinetes.Protocol;

namespace Affinetes.ActorHost.Runtimes;

/// <summary>
/// The seam between the endpoint layer and an actor implementation (Python today; C# and sidecar later). A runtime
/// knows nothing of HTTP: it loads the actor, publishes its method table once, and invokes methods with JSON.
/// </summary>
internal interface IActorRuntime : IAsyncDisposable
{
    /// <summary>Short name for health answers and logs, e.g. <c>python</c>.</summary>
    string Name { get; }

    /// <summary>Where start-up time went (interpreter, import, construction), for the ready log line.</summary>
    string StartupTimings { get; }

    /// <summary>Loads the actor and constructs it. Throws <see cref="ActorStartupException"/> with a reason a miner can act on.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>The public methods, available once <see cref="StartAsync"/> has completed.</summary>
    IReadOnlyList<MethodDescriptor> Methods { get; }

    /// <summary>
    /// Invokes <paramref name="method"/> (one of <see cref="Methods"/>) with the request body as it came (UTF-8 bytes):
    /// <paramref name="shape"/> says whether it is a <c>/call</c> body or a flat kwargs object. Cancelling
    /// <paramref name="cancellationToken"/> (deadline or caller gone) cancels the work where the runtime can.
    /// A runtime may run a quick call on the calling thread before it returns (the caller answers a deadline that
    /// passes meanwhile from another thread).
    /// </summary>
    Task<InvokeResult> InvokeAsync(MethodDescriptor method, ReadOnlyMemory<byte> body, BodyShape shape, CancellationToken cancellationToken);

    /// <summary>
    /// Why nothing can be served any more although the actor started (every worker stuck in code that ignores its
    /// deadline, an event loop that no longer runs); null while calls can be served. Read often: keep it cheap.
    /// </summary>
    string? UnservableReason => null;

    /// <summary>
    /// The runtime's own OpenAPI document, served as it is by <c>/openapi.json</c> (a sidecar's server has one);
    /// null: the endpoint layer describes <see cref="Methods"/> itself.
    /// </summary>
    byte[]? OpenApiDocument => null;

    /// <summary>
    /// Raised when the actor stops or starts being servable after a successful start (a sidecar's server died and
    /// is restarting, or is back). Runtimes whose actor cannot go away never raise it.
    /// </summary>
    event Action<RuntimeHealth>? HealthChanged
    {
        add { }
        remove { }
    }
}

/// <summary>A change of health after start-up: serving again, or not serving and why (final: it will not come back).</summary>
internal readonly record struct RuntimeHealth(bool Serving, string? Reason, bool Final = false);

/// <summary>How the arguments are laid out in a request body.</summary>
internal enum BodyShape
{
    /// <summary><c>{"method": ..., "args": [...], "kwargs": {...}}</c>.</summary>
    Call = 0,

    /// <summary>A flat object of keyword arguments, or <c>{"args": [...], "kwargs": {...}}</c>.</summary>
    Flat = 1,
}

/// <summary>The outcome of one invocation: the result's JSON (UTF-8, written to the answer as it is), or a typed failure.</summary>
internal readonly record struct InvokeResult(ReadOnlyMemory<byte> ResultJson, ErrorDetail? Error)
{
    private static readonly byte[] Null = "null"u8.ToArray();

    public bool Succeeded => Error is null;

    public static InvokeResult Success(ReadOnlyMemory<byte> utf8Json) => new(utf8Json, null);

    public static InvokeResult Success(string json) => new(System.Text.Encoding.UTF8.GetBytes(json), null);

    /// <summary>The actor returned nothing: JSON <c>null</c>.</summary>
    public static InvokeResult SuccessNull() => new(Null, null);

    public static InvokeResult Failure(ErrorDetail error) => new(default, error);
}

/// <summary>Request bodies as the runtimes get them.</summary>
internal static class RequestBody
{
    /// <summary>Empty or only JSON whitespace: a call without arguments.</summary>
    public static bool IsBlank(ReadOnlySpan<byte> body) => body.Trim(" \t\r\n"u8).IsEmpty;
}

/// <summary>The actor cannot be served: import error, missing Actor class, constructor exception, no libpython.</summary>
internal class ActorStartupException(string reason, Exception? inner = null) : Exception(reason, inner);

/// <summary>The runtime itself is missing from the image (no interpreter, no shared libpython): the host exits.</summary>
internal sealed class RuntimeNotInstalledException(string reason, Exception? inner = null) : ActorStartupException(reason, inner);
