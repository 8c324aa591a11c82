using Affinetes.ActorHost.Runtimes;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// A hosted service that runs <see cref="Check"/> every <c>period</c> on a <see cref="Ticker"/> thread of its own,
/// from the host's start until its stop or until the check returns false.
/// </summary>
internal abstract class PeriodicCheck(string name, TimeSpan period) : IHostedService, IDisposable
{
    private Ticker? _ticker;

    /// <summary>One look; false to stop looking (the host is stopping because of it).</summary>
    protected abstract bool Check();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ticker = new Ticker(name, period, Check);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _ticker?.Dispose();
}
