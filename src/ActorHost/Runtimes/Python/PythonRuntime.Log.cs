namespace Affinetes.ActorHost.Runtimes.Python;

internal sealed partial class PythonRuntime
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "the Actor's attribute {Attribute} is not served")]
    private static partial void LogSkippedAttribute(ILogger logger, string attribute);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the asyncio loop did not stop cleanly")]
    private static partial void LogStopFailed(ILogger logger, Exception exception);
}
