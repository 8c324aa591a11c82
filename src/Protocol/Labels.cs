namespace Affinetes.Protocol;

/// <summary>Kinds of environment, stored in the image label <see cref="ImageLabels.EnvType"/>.</summary>
public static class EnvironmentKinds
{
    /// <summary>A Python <c>env.py</c> with an <c>Actor</c> class (the original calls it <c>function_based</c>).</summary>
    public const string Python = "function_based";

    /// <summary>An environment that brings its own HTTP server (the original's FastAPI <c>app</c> in env.py, or a sidecar).</summary>
    public const string HttpBased = "http_based";
}

/// <summary>Values of <see cref="ImageLabels.Runtime"/> and of the host's <c>AFFINETES_RUNTIME</c>: which runtime serves the image.</summary>
public static class RuntimeNames
{
    public const string Python = "python";
    public const string CSharp = "csharp";
    public const string Sidecar = "sidecar";
}

/// <summary>Labels the injector writes on images.</summary>
public static class ImageLabels
{
    /// <summary>The environment's kind (<see cref="EnvironmentKinds"/>); an image without it was not built by afs (nor by the original).</summary>
    public const string EnvType = "affinetes.env.type";
    public const string HostVersion = "affinetes.host.version";
    public const string SourceDigest = "affinetes.source.digest";
    /// <summary>The host runtime that serves the image: one of <see cref="RuntimeNames"/>.</summary>
    public const string Runtime = "affinetes.runtime";
}

/// <summary>
/// Labels on every container a validator starts, so that <c>afs ps</c>, <c>afs stop</c> and <c>afs cleanup</c> find
/// them whichever process started them.
/// </summary>
public static class ContainerLabels
{
    /// <summary>Marks the container as a validator's: its value is <see cref="OwnerValue"/>.</summary>
    public const string Owner = "affinetes.owner";
    public const string OwnerValue = "affinetes-validator";
    /// <summary>The environment it belongs to: the container name asked for, else the image.</summary>
    public const string Name = "affinetes.name";
    /// <summary>The image as the validator named it.</summary>
    public const string Image = "affinetes.image";
    /// <summary>The environment instance (one per load) that started it.</summary>
    public const string Session = "affinetes.session";
    /// <summary>When it was created (ISO 8601, UTC).</summary>
    public const string Created = "affinetes.created";
    /// <summary>Its index among its environment's replicas.</summary>
    public const string Replica = "affinetes.replica";
    /// <summary>Hash of image, environment variables and limits: a reused container must match it.</summary>
    public const string Spec = "affinetes.spec";
    /// <summary>Seconds of its lease, when its host stops (and the engine removes it) once the client stops renewing it.</summary>
    public const string Lease = "affinetes.lease";
    /// <summary>The relaxations of the hardened profile it runs with, comma-separated (<c>writable-rootfs,cap-add=NET_RAW</c>); <c>none</c> when fully hardened.</summary>
    public const string Relaxations = "affinetes.relaxations";
    /// <summary>Its resource limits as started: <c>memory=4Gi cpus=2 pids=512 nofile=8192 tmp=256Mi</c>.</summary>
    public const string Limits = "affinetes.limits";
}

/// <summary>Environment variables that configure the host inside a container.</summary>
public static class HostEnvironment
{
    public const string EnvFile = "AFFINETES_ENV_FILE";
    public const string Port = "AFFINETES_PORT";
    public const string Bind = "AFFINETES_BIND";
    /// <summary>The bearer token in plain text. Readable by the actor's code until the host removes it from its
    /// environment, and always in <c>/proc/1/environ</c>: set <see cref="AuthTokenSha256"/> instead.</summary>
    public const string AuthToken = "AFFINETES_AUTH_TOKEN";
    public const string Runtime = "AFFINETES_RUNTIME";
    /// <summary>Where compiled C# actors are kept (the image's build fills it).</summary>
    public const string CacheDirectory = "AFFINETES_CACHE_DIR";
    /// <summary>A sidecar's command: a JSON array, or a line for <c>/bin/sh -c</c>.</summary>
    public const string SidecarCommand = "AFFINETES_SIDECAR_COMMAND";
    public const string SidecarPort = "AFFINETES_SIDECAR_PORT";
    public const string SidecarMethods = "AFFINETES_SIDECAR_METHODS";

    /// <summary>
    /// The SHA-256 of the bearer token (<see cref="HashAuthToken"/>: 64 lowercase hex digits). The host verifies
    /// presented tokens against it, so the token itself never enters the container.
    /// </summary>
    public const string AuthTokenSha256 = "AFFINETES_AUTH_TOKEN_SHA256";

    /// <summary>
    /// Seconds the host keeps serving without hearing from its client (any request but an unauthenticated
    /// <c>/health</c> renews it); then it exits, and a container started with auto-remove is removed by its engine.
    /// Set by clients that remove what they start, so that a client killed with SIGKILL leaves nothing running.
    /// </summary>
    public const string LeaseSeconds = "AFFINETES_LEASE_SECONDS";

    /// <summary>
    /// A unix socket path the host serves on as well as its port: how a client reaches a container that has no
    /// network (<c>--network none</c>), through a bind-mounted directory. The host makes the socket connectable by
    /// every user (the directory it is in is the client's private one).
    /// </summary>
    public const string UnixSocket = "AFFINETES_UNIX_SOCKET";

    /// <summary>
    /// The LLM gateway's unix socket inside the container (bind-mounted). With <see cref="LlmRelayPort"/>, the host
    /// relays each connection to <c>127.0.0.1:PORT</c> to it, so the actor reaches the gateway at
    /// <c>http://127.0.0.1:PORT/v1</c> (and as its HTTPS proxy) without any network.
    /// </summary>
    public const string LlmSocket = "AFFINETES_LLM_SOCKET";

    /// <summary>The port on 127.0.0.1 where the host relays connections to <see cref="LlmSocket"/>.</summary>
    public const string LlmRelayPort = "AFFINETES_LLM_RELAY_PORT";

    /// <summary>The most bytes a result may have (default <see cref="ResultLimits.DefaultMaxBytes"/>); set by clients that accept larger ones.</summary>
    public const string MaxResultBytes = "AFFINETES_MAX_RESULT_BYTES";

    /// <summary>The port the host listens on inside a container, unless <see cref="Port"/> says otherwise.</summary>
    public const int DefaultPort = 8000;

    /// <summary>The container port a client publishes: <c>8000/tcp</c>.</summary>
    public const string ContainerPort = "8000/tcp";

    /// <summary>The value of <see cref="AuthTokenSha256"/> for <paramref name="token"/>: SHA-256 of its UTF-8 bytes, lowercase hex.</summary>
    public static string HashAuthToken(string token) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));
}
