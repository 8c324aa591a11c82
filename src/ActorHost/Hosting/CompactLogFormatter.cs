using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// One short line per entry for container logs: <c>2026-11-25T13:06:27.510Z info call evaluate 200 51.3ms</c>.
/// No category or event id noise; exceptions follow on their own lines.
/// </summary>
internal sealed class CompactLogFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "affinetes";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
        {
            return;
        }
        textWriter.Write(DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
        textWriter.Write(logEntry.LogLevel switch
        {
            LogLevel.Trace => " trce ",
            LogLevel.Debug => " dbug ",
            LogLevel.Information => " info ",
            LogLevel.Warning => " warn ",
            LogLevel.Error => " fail ",
            _ => " crit ",
        });
        textWriter.WriteLine(message);
        if (logEntry.Exception is { } exception)
        {
            textWriter.WriteLine(exception.ToString());
        }
    }
}
