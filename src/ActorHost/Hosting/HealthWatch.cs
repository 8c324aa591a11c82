using System.Runtime.InteropServices;
using Affinetes.ActorHost.Runtimes;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// Turns the runtime's <see cref="IActorRuntime.UnservableReason"/> into readiness (503 with the reason on /health,
/// /ready and calls) and, when it lasts longer than <see cref="ActorHostOptions.UnservableGrace"/>, exits the host
/// (code 4) so that the container is replaced: a host never reports healthy while it cannot serve, and never stays
/// up unable to.
/// </summary>
internal sealed partial class HealthWatch(IActorRuntime runtime, Readiness readiness, ActorHostOptions options, IHostApplicationLifetime lifetime, ILogger<HealthWatch> logger)
    : PeriodicCheck("health-watch", TimeSpan.FromMilliseconds(250))
{
    /// <summary>The exit code of a host that gave up because it could not serve.</summary>
    public const int UnservableExitCode = 4;

    private long _since;

    /// <summary>One look at the runtime; false once the host gave up (it is stopping).</summary>
    protected override bool Check()
    {
        if (readiness.Current is not (Readiness.State.Ready or Readiness.State.Unservable))
        {
            return true;
        }
        var reason = runtime.UnservableReason;
        if (reason is null)
        {
            if (_since != 0)
            {
                LogRecovered(logger);
                readiness.MarkServable();
                _since = 0;
            }
            return true;
        }
        if (_since == 0)
        {
            _since = Environment.TickCount64;
            LogUnservable(logger, reason, options.UnservableGrace.TotalSeconds);
        }
        readiness.MarkUnservable(reason);
        if (Environment.TickCount64 - _since < options.UnservableGrace.TotalMilliseconds)
        {
            return true;
        }
        LogExiting(logger, reason);
        Environment.ExitCode = UnservableExitCode;
        // Nothing can be served, so there is nothing to drain; and the graceful stop may itself hang on what made the
        // host unservable (a GIL never released): it gets 3 s.
        _ = Task.Delay(TimeSpan.FromSeconds(3), CancellationToken.None)
            .ContinueWith(_ => Exit(UnservableExitCode), TaskScheduler.Default);
        lifetime.StopApplication();
        return false;
    }

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void Exit(int status);

    [LoggerMessage(Level = LogLevel.Error, Message = "the host cannot serve: {Reason}; /health answers 503, and the host exits in {GraceSeconds:0} s unless it recovers")]
    private static partial void LogUnservable(ILogger logger, string reason, double graceSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "the host serves again")]
    private static partial void LogRecovered(ILogger logger);

    [LoggerMessage(Level = LogLevel.Critical, Message = "exiting: the host could not serve for its whole grace period ({Reason})")]
    private static partial void LogExiting(ILogger logger, string reason);
}
