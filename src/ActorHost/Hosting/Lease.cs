using Affinetes.Protocol;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// The host's lease (<see cref="HostEnvironment.LeaseSeconds"/>): every request that passed authentication renews
/// it, but <c>/health</c>, which anyone may ask; when the client that started the container has not been heard from
/// for the lease's length, the host stops as on SIGTERM (calls in flight drain) and its engine removes the container.
/// </summary>
internal sealed partial class Lease(ActorHostOptions options, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<Lease> logger)
    : PeriodicCheck("lease-watch", TimeSpan.FromMilliseconds(Math.Clamp(options.Lease!.Value.TotalMilliseconds / 4, 100, 1000)))
{
    private long _lastRenewal = time.GetTimestamp();

    /// <summary>Middleware: renews the lease for every request but <c>/health</c>.</summary>
    public Task RenewAsync(HttpContext context, RequestDelegate next)
    {
        if (!context.Request.Path.Equals(WireRoutes.Health, StringComparison.Ordinal))
        {
            Interlocked.Exchange(ref _lastRenewal, time.GetTimestamp());
        }
        return next(context);
    }

    /// <summary>Stops the host once the client has been silent for the lease's length.</summary>
    protected override bool Check()
    {
        var length = options.Lease!.Value;
        var silent = time.GetElapsedTime(Interlocked.Read(ref _lastRenewal));
        if (silent < length)
        {
            return true;
        }
        LogExpired(logger, silent.TotalSeconds, length.TotalSeconds);
        lifetime.StopApplication();
        return false;
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "lease expired: no request from the client for {SilentSeconds:0.0} s (lease {LeaseSeconds:0.###} s); stopping")]
    private static partial void LogExpired(ILogger logger, double silentSeconds, double leaseSeconds);
}
