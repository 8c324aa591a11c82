using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Episodes;

/// <summary>The log messages of episodes (event ids 7xxx).</summary>
internal static partial class EpisodeLog
{
    [LoggerMessage(7001, LogLevel.Debug, "episode {EpisodeId} of {Environment} opened on {Replica}")]
    public static partial void Opened(ILogger logger, string episodeId, string environment, string replica);

    [LoggerMessage(7002, LogLevel.Debug, "reset on {Replica} of {Environment} failed before an answer ({Reason}); trying another replica")]
    public static partial void ResetPassedOver(ILogger logger, string replica, string environment, string reason);

    [LoggerMessage(7003, LogLevel.Debug, "episode {EpisodeId} stopped on {Replica}")]
    public static partial void Stopped(ILogger logger, string episodeId, string replica);

    [LoggerMessage(7004, LogLevel.Warning, "episode {EpisodeId} lost: {Reason}")]
    public static partial void Lost(ILogger logger, string episodeId, string reason);

    [LoggerMessage(7005, LogLevel.Debug, "stopping episode {EpisodeId} at its disposal failed: {Reason}")]
    public static partial void StopFailed(ILogger logger, string episodeId, string reason);
}
