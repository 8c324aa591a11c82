using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Pooling;

internal sealed partial class CallPath
{
    /// <summary>The call path's log messages (event ids as listed in <see cref="Telemetry.Log"/>).</summary>
    private static partial class Log
    {
        [LoggerMessage(3001, LogLevel.Debug, "a call goes to another replica after {Replica} failed: {Reason}")]
        public static partial void CallFailedOver(ILogger logger, string replica, string reason);
    }
}
