using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Pooling;

internal sealed partial class ReplicaHealthMonitor
{
    /// <summary>The monitor's log messages (event ids as listed in <see cref="Telemetry.Log"/>).</summary>
    private static partial class Log
    {
        [LoggerMessage(2009, LogLevel.Warning, "the replica monitor of {Environment} failed and carries on: {Reason}")]
        public static partial void MonitorFailed(ILogger logger, string environment, string reason);

        [LoggerMessage(3002, LogLevel.Warning, "{Count} calls in flight on {Replica} are abandoned: {Reason}")]
        public static partial void CallsAbandoned(ILogger logger, int count, string replica, string reason);
    }
}
