using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Jobs;

/// <summary>The job services' log messages (7xxx).</summary>
internal static partial class JobsLog
{
    [LoggerMessage(7001, LogLevel.Warning, "{Warning}")]
    public static partial void KeyPassedIntoDeployment(ILogger logger, string warning);

    [LoggerMessage(7002, LogLevel.Warning, "deleted {Count} basilica deployments left by validators that are gone: {Names}")]
    public static partial void AbandonedRemoved(ILogger logger, int count, string names);

    [LoggerMessage(7003, LogLevel.Warning, "scoring cycle {Cycle} failed: {Reason}; the next cycle runs at {Next}")]
    public static partial void CycleFailed(ILogger logger, int cycle, string reason, string next);
}
