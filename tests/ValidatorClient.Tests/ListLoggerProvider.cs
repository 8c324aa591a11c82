using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>Log lines as <c>EVENTID Level message</c>, into a list the test reads.</summary>
internal sealed class ListLoggerProvider(List<string> lines) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new ListLogger(lines);

    public void Dispose()
    {
    }

    private sealed class ListLogger(List<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (lines)
            {
                lines.Add($"{eventId.Id} {logLevel} {formatter(state, exception)}");
            }
        }
    }
}
