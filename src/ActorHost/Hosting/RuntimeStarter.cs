using System.Diagnostics;
using Affinetes.ActorHost.Runtimes;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// Starts the actor runtime the moment the host is composed, before Kestrel is even built, so that loading the
/// interpreter and importing env.py overlap with the web server's own start-up. Readiness follows the outcome.
/// </summary>
internal sealed class RuntimeStartup
{
    public RuntimeStartup(IActorRuntime runtime)
    {
        Runtime = runtime;
        Clock = Stopwatch.StartNew();
        Task = runtime.StartAsync(CancellationToken.None);
    }

    public IActorRuntime Runtime { get; }
    public Stopwatch Clock { get; }
    public Task Task { get; }
}

/// <summary>
/// Turns the start-up outcome into readiness and log lines; marks the host stopping on SIGTERM so new calls are
/// refused while in-flight ones drain, and releases the runtime once the server has stopped.
/// </summary>
internal sealed partial class RuntimeStarter(RuntimeStartup startup, Readiness readiness, IHostApplicationLifetime lifetime, ILogger<RuntimeStarter> logger)
    : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(readiness.MarkStopping);
        lifetime.ApplicationStopped.Register(() => startup.Runtime.DisposeAsync().AsTask().GetAwaiter().GetResult());
        _ = ObserveAsync();
        return Task.CompletedTask;
    }

    private async Task ObserveAsync()
    {
        var runtime = startup.Runtime;
        try
        {
            await startup.Task;
            runtime.HealthChanged += OnHealthChanged;
            readiness.MarkReady();
            LogReady(logger, runtime.Methods.Count, string.Join(", ", runtime.Methods.Select(m => m.Name)), startup.Clock.ElapsedMilliseconds, runtime.StartupTimings);
            if (logger.IsEnabled(LogLevel.Debug))
            {
                StartupTimeline.Mark("actor ready");
                // Once the server listens too (at once when it already does).
                lifetime.ApplicationStarted.Register(() => LogTimeline(logger, StartupTimeline.Describe()));
            }
        }
        catch (RuntimeNotInstalledException e)
        {
            // Nothing can be served without the runtime: exit with one line instead of answering 503 forever.
            readiness.MarkFailed(e.Message);
            LogFailed(logger, e.Message);
            Environment.ExitCode = 3;
            lifetime.ApplicationStarted.Register(lifetime.StopApplication); // at once if already started
        }
        catch (Exception e)
        {
            var reason = e is ActorStartupException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            readiness.MarkFailed(reason);
            LogFailed(logger, reason);
        }
    }

    private void OnHealthChanged(RuntimeHealth health)
    {
        if (health.Serving)
        {
            readiness.MarkReady();
            LogRecovered(logger);
        }
        else if (health.Final)
        {
            readiness.MarkFailed(health.Reason ?? "the actor stopped");
            LogFailed(logger, health.Reason ?? "the actor stopped");
        }
        else
        {
            readiness.MarkRecovering(health.Reason ?? "restarting");
            LogRecovering(logger, health.Reason ?? "restarting");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "actor serving again")]
    private static partial void LogRecovered(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "actor unavailable: {Reason}")]
    private static partial void LogRecovering(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "actor ready: {Count} methods [{Methods}] in {ElapsedMs} ms ({Timings})")]
    private static partial void LogReady(ILogger logger, int count, string methods, long elapsedMs, string timings);

    [LoggerMessage(Level = LogLevel.Debug, Message = "start-up: {Timeline}")]
    private static partial void LogTimeline(ILogger logger, string timeline);

    [LoggerMessage(Level = LogLevel.Error, Message = "the actor cannot be served: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
