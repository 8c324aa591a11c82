using System.Diagnostics;
using Affinetes.ValidatorClient.Backends;
using Affinetes.ValidatorClient.Backends.Basilica;
using Affinetes.ValidatorClient.Backends.Docker;
using Affinetes.ValidatorClient.Backends.Url;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Pooling;
using Affinetes.ValidatorClient.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Affinetes.ValidatorClient;

/// <summary>Loads environments. From dependency injection (<c>services.AddAffinetes()</c>), or <see cref="AffinetesClient.Create"/>.</summary>
public interface IAffinetesClient : IAsyncDisposable
{
    /// <summary>
    /// Provisions the environment (containers, or existing servers in url mode), waits until its replicas are ready
    /// and returns it. Dispose it to release what it started. Invalid options throw
    /// <see cref="EnvironmentOptionsException"/>; an environment that cannot start throws
    /// <see cref="EnvironmentUnavailableException"/> with the reason, and leaves nothing running.
    /// </summary>
    Task<IEnvironment> LoadEnvAsync(EnvironmentOptions options, CancellationToken cancellationToken = default);
}

/// <summary>The entry point without dependency injection: load an environment, then call its Actor's methods.</summary>
public static class AffinetesClient
{
    private static readonly EnvironmentLoader Shared = new(NullLoggerFactory.Instance, HttpClients.Create, new AffinetesClientOptions());

    /// <summary>
    /// Provisions the environment and returns it once its replicas are ready (see <see cref="IAffinetesClient.LoadEnvAsync"/>).
    /// It logs nothing; <see cref="LoadEnvAsync(EnvironmentOptions, ILoggerFactory?, CancellationToken)"/> says where it logs.
    /// </summary>
    public static Task<IEnvironment> LoadEnvAsync(EnvironmentOptions options) =>
        Shared.LoadEnvAsync(options, null, CancellationToken.None);

    /// <summary>
    /// Provisions the environment and returns it once its replicas are ready (see <see cref="IAffinetesClient.LoadEnvAsync"/>).
    /// It logs nothing; <see cref="LoadEnvAsync(EnvironmentOptions, ILoggerFactory?, CancellationToken)"/> says where it logs.
    /// </summary>
    public static Task<IEnvironment> LoadEnvAsync(EnvironmentOptions options, CancellationToken cancellationToken) =>
        Shared.LoadEnvAsync(options, null, cancellationToken);

    /// <summary>
    /// Provisions the environment and returns it once its replicas are ready (see <see cref="IAffinetesClient.LoadEnvAsync"/>);
    /// it logs what it does (replicas started, unhealthy, replaced ...) to <paramref name="loggerFactory"/> (nowhere when null).
    /// </summary>
    public static Task<IEnvironment> LoadEnvAsync(EnvironmentOptions options, ILoggerFactory? loggerFactory, CancellationToken cancellationToken = default) =>
        Shared.LoadEnvAsync(options, loggerFactory, cancellationToken);

    /// <summary>
    /// A client whose environments log to <paramref name="loggerFactory"/>. Dispose it to release the environments it
    /// loaded and stop its LLM gateways.
    /// </summary>
    public static IAffinetesClient Create(ILoggerFactory? loggerFactory = null, AffinetesClientOptions? options = null) =>
        new EnvironmentLoader(loggerFactory ?? NullLoggerFactory.Instance, HttpClients.Create, options ?? new AffinetesClientOptions());

    /// <summary>
    /// Opt-in for programs without their own shutdown handling (scripts, console tools): on Ctrl+C, SIGTERM and normal
    /// process exit, every environment still loaded in this process is released (containers stopped and removed),
    /// waiting at most <paramref name="limit"/> (default 20 s). The library installs no signal handler unless this is
    /// called; applications on the Generic Host dispose their <see cref="IAffinetesClient"/> instead.
    /// </summary>
    public static void ReleaseEnvironmentsOnExit(TimeSpan? limit = null) => TenantRegistry.HookProcessExit(limit ?? TimeSpan.FromSeconds(20));
}

/// <summary>Settings of a client, bindable from configuration (section <c>Affinetes</c> with <c>AddAffinetes</c>).</summary>
public sealed class AffinetesClientOptions
{
    /// <summary>The deadline of calls whose environment names none (<see cref="EnvironmentOptions.DefaultCallTimeout"/> wins).</summary>
    public TimeSpan? DefaultCallTimeout { get; set; }

    /// <summary>Release every environment this client loaded, still live, when the client is disposed (the application stops).</summary>
    public bool ReleaseEnvironmentsOnDispose { get; set; } = true;

    /// <summary>Docker mode: containers this client may have at once, all its environments together (default 64); past it a start is refused with <see cref="ContainerLimitException"/>.</summary>
    public int MaxLiveContainers { get; set; } = 64;

    /// <summary>Docker mode: affinetes containers (anyone's, by their owner label) an engine may run before this client refuses to start more there (default 128).</summary>
    public int MaxLiveContainersPerEngine { get; set; } = 128;

    /// <summary>Docker mode: containers this client creates per second at most (default 10, bursts of as many); further creations wait their turn.</summary>
    public double MaxContainerCreationsPerSecond { get; set; } = 10;

    /// <summary>
    /// Checks the settings; throws one <see cref="EnvironmentOptionsException"/> whose
    /// <see cref="EnvironmentOptionsException.Errors"/> lists every problem, each saying how to fix it.
    /// </summary>
    public void Validate()
    {
        if (Errors() is { Count: > 0 } errors)
        {
            throw new EnvironmentOptionsException(errors, "the client options");
        }
    }

    /// <summary>Every problem of the settings; none when they can be used.</summary>
    internal List<string> Errors()
    {
        var errors = new List<string>();
        if (MaxLiveContainers < 1 || MaxLiveContainersPerEngine < 1)
        {
            errors.Add($"container limits must be at least 1 (max live containers {MaxLiveContainers}, per engine {MaxLiveContainersPerEngine})");
        }
        if (!(MaxContainerCreationsPerSecond >= 0.01) || double.IsInfinity(MaxContainerCreationsPerSecond))
        {
            errors.Add($"container creations per second is {MaxContainerCreationsPerSecond}; use a rate of at least 0.01, e.g. 10");
        }
        return errors;
    }
}

/// <summary>Builds backends and pools for <see cref="IAffinetesClient"/>, and keeps the live environments it loaded.</summary>
internal sealed class EnvironmentLoader(ILoggerFactory loggerFactory, Func<EnvironmentOptions, HttpClient> createHttp, AffinetesClientOptions clientOptions)
    : IAffinetesClient, IAsyncDisposable
{
    private readonly HashSet<AffinetesEnvironment> _live = [];
    private readonly Lazy<EngineCaps> _caps = new(() => new EngineCaps(clientOptions));
    private readonly Gateway.LlmGateways _gateways = new(loggerFactory);
    private readonly Lock _gate = new();

    public Task<IEnvironment> LoadEnvAsync(EnvironmentOptions options, CancellationToken cancellationToken = default) =>
        LoadEnvAsync(options, null, cancellationToken);

    /// <summary>Loads an environment that logs to <paramref name="logs"/>, or to this client's logger factory when null.</summary>
    internal async Task<IEnvironment> LoadEnvAsync(EnvironmentOptions options, ILoggerFactory? logs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Parse();
        if (options.DefaultCallTimeout is null && clientOptions.DefaultCallTimeout is { } fallback)
        {
            options = options with { DefaultCallTimeout = fallback };
        }
        var environment = await LoadCoreAsync(options, logs ?? loggerFactory, callDeadline: null, cancellationToken);
        lock (_gate)
        {
            _live.Add(environment);
        }
        TenantRegistry.Add(environment);
        return environment;
    }

    /// <summary>Provisions one environment; in basilica mode with a fresh deployment per call, one that deploys at each call.</summary>
    private async Task<AffinetesEnvironment> LoadCoreAsync(EnvironmentOptions options, ILoggerFactory logs, TimeSpan? callDeadline, CancellationToken cancellationToken)
    {
        var (cpu, memory) = options.Parse();
        var logger = logs.CreateLogger("Affinetes.ValidatorClient");
        var perCall = options.Mode == EnvironmentMode.Basilica && options.Basilica.FreshDeploymentPerCall;
        var name = options.Image ?? (options.ConnectOnly ? options.ContainerName : null) ?? string.Join(", ", options.BaseUrls);
        // The LLM gateway first: its token and socket go into the containers' settings.
        var gateway = options.Llm is null ? null : await _gateways.RegisterAsync(options, name, cancellationToken);
        var http = createHttp(options);
        IBackend backend = options.Mode switch
        {
            EnvironmentMode.Url => new UrlBackend(options),
            EnvironmentMode.Docker => new DockerBackend(options, cpu, memory, _caps.Value, logs.CreateLogger<DockerBackend>(), gateway),
            EnvironmentMode.Basilica => new BasilicaBackend(options, cpu, memory, logs.CreateLogger<BasilicaBackend>(), gateway, callDeadline, perCall),
            _ => throw new EnvironmentOptionsException($"{options.Mode.ToString().ToLowerInvariant()} mode is not available in this version"),
        };
        var pool = new ReplicaPool(name, backend, options, http, logger);
        var clock = Stopwatch.StartNew();
        try
        {
            await pool.ProvisionAsync(cancellationToken);
        }
        catch (Exception e)
        {
            // A start that failed on the hardened profile (a write on the read-only root ...) says which relaxation helps.
            var explained = e is EnvironmentUnavailableException unavailable && backend is DockerBackend docker ? docker.ExplainHardening(unavailable) : null;
            await pool.DisposeAsync();
            await backend.DisposeAsync();
            http.Dispose();
            if (gateway is not null)
            {
                await gateway.Gateway.RemoveAsync(gateway.Name);
            }
            if (explained is not null)
            {
                throw explained;
            }
            throw;
        }
        Log.EnvironmentReady(logger, name, pool.ReadyCount, backend.ReplicaCount, backend.Name, clock.Elapsed.TotalMilliseconds);
        // Isolation: each call gets its own one-pod deployment, deleted when the call ends; its TTL covers that call's deadline.
        var oneCallOptions = options with { Replicas = 1, MinReadyReplicas = null, LogFile = null, Basilica = options.Basilica with { FreshDeploymentPerCall = false } };
        Func<TimeSpan?, CancellationToken, Task<AffinetesEnvironment>>? fresh = perCall
            ? (deadline, ct) => LoadCoreAsync(oneCallOptions, logs, deadline, ct)
            : null;
        return new AffinetesEnvironment(name, backend, pool, http, options, logger, Forget, fresh, gateway);
    }

    private void Forget(AffinetesEnvironment environment)
    {
        lock (_gate)
        {
            _live.Remove(environment);
        }
        TenantRegistry.Remove(environment);
    }

    public async ValueTask DisposeAsync()
    {
        if (clientOptions.ReleaseEnvironmentsOnDispose)
        {
            List<AffinetesEnvironment> live;
            lock (_gate)
            {
                live = [.. _live];
            }
            await Task.WhenAll(live.Select(e => e.DisposeAsync().AsTask()));
        }
        if (_caps.IsValueCreated)
        {
            _caps.Value.Dispose();
        }
        // The gateways go with the client (environments still live lose their LLM).
        await _gateways.DisposeAsync();
    }
}
