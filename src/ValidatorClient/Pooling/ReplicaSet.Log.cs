using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Pooling;

internal sealed partial class ReplicaSet
{
    /// <summary>The replica set's log messages (event ids as listed in <see cref="Telemetry.Log"/>).</summary>
    private static partial class Log
    {
        [LoggerMessage(2001, LogLevel.Debug, "replica {Replica} started, waiting until it is ready")]
        public static partial void ReplicaStarted(ILogger logger, string replica);

        [LoggerMessage(2002, LogLevel.Debug, "replica {Replica} is ready after {ElapsedMs:0} ms")]
        public static partial void ReplicaReady(ILogger logger, string replica, double elapsedMs);

        [LoggerMessage(2003, LogLevel.Warning, "replica {Replica} is unhealthy and skipped: {Reason}")]
        public static partial void ReplicaUnhealthy(ILogger logger, string replica, string reason);

        [LoggerMessage(2004, LogLevel.Information, "replica {Replica} answers again and takes calls")]
        public static partial void ReplicaRecovered(ILogger logger, string replica);

        [LoggerMessage(2005, LogLevel.Warning, "replica {Replica} is replaced: {Reason}")]
        public static partial void ReplicaReplacing(ILogger logger, string replica, string reason);

        [LoggerMessage(2006, LogLevel.Information, "replica {Old} was replaced by {New}")]
        public static partial void ReplicaReplaced(ILogger logger, string old, string @new);

        [LoggerMessage(2007, LogLevel.Error, "replacing replica {Index} of {Environment} failed (attempt {Attempt}): {Reason}")]
        public static partial void ReplacementFailed(ILogger logger, int index, string environment, int attempt, string reason);

        [LoggerMessage(2008, LogLevel.Warning, "replica {Replica} could not start: {Reason}")]
        public static partial void ReplicaStartFailed(ILogger logger, string replica, string reason);
    }
}
