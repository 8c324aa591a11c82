using System.Diagnostics;
using Affinetes.ActorHost.Runtimes;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// Starts the actor runtime in the background as soon as the host starts, so Kestrel listens (and answers /ready
/// with 503 and the reason) while env.py imports; marks the host stopping on SIGTERM so new calls are refused while
/// in-flight ones drain.
/// </summary>
internal sealed partial class RuntimeStarter(IActorRuntime runtime, Readiness readiness, IHostApplicationLifetime lifetime, ILogger<RuntimeStarter> logger)
    : IHostedService
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(readiness.MarkStopping);
        _ = Task.Run(StartRuntimeAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task StartRuntimeAsync()
    {
        try
        {
            await runtime.StartAsync(lifetime.ApplicationStopping);
            readiness.MarkReady();
            LogReady(logger, runtime.Name, runtime.Methods.Count, string.Join(", ", runtime.Methods.Select(m => m.Name)), _clock.ElapsedMilliseconds);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
        }
        catch (RuntimeNotInstalledException e)
        {
            // Nothing can be served without the runtime: exit with one line instead of answering 503 forever.
            readiness.MarkFailed(e.Message);
            LogFailed(logger, e.Message);
            Environment.ExitCode = 3;
            lifetime.StopApplication();
        }
        catch (Exception e)
        {
            var reason = e is ActorStartupException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            readiness.MarkFailed(reason);
            LogFailed(logger, reason);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "actor ready ({Runtime}): {Count} methods [{Methods}] in {ElapsedMs} ms")]
    private static partial void LogReady(ILogger logger, string runtime, int count, string methods, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "the actor cannot be served: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
