namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// A logger handed to the runtime before the host's logging exists (the runtime starts first, to overlap with the
/// web server's start-up); it forwards to the real logger once that is set.
/// </summary>
internal sealed class DeferredLogger : ILogger
{
    public ILogger? Target { get; set; }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => Target?.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => Target?.IsEnabled(logLevel) ?? logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (Target is { } target)
        {
            target.Log(logLevel, eventId, state, exception, formatter);
        }
        else if (logLevel >= LogLevel.Warning)
        {
            Console.Error.WriteLine(formatter(state, exception));
        }
    }
}
