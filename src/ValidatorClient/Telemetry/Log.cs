using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Telemetry;

/// <summary>
/// The client's log messages, source-generated, with stable event ids (1xxx environments, 2xxx replicas, 3xxx calls,
/// 4xxx docker, 5xxx basilica, 6xxx the LLM gateway, 7xxx episodes). The pool's own (2001-2009, 3001-3002) sit beside the class that logs them:
/// <c>Pooling/ReplicaSet.Log.cs</c>, <c>ReplicaHealthMonitor.Log.cs</c>, <c>CallPath.Log.cs</c>.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "environment {Environment} is ready: {Ready} of {Replicas} replicas ({Backend}) in {ElapsedMs:0} ms")]
    public static partial void EnvironmentReady(ILogger logger, string environment, int ready, int replicas, string backend, double elapsedMs);

    [LoggerMessage(1002, LogLevel.Information, "environment {Environment} released")]
    public static partial void EnvironmentReleased(ILogger logger, string environment);

    [LoggerMessage(1003, LogLevel.Warning, "releasing environment {Environment} failed: {Reason}")]
    public static partial void ReleaseFailed(ILogger logger, string environment, string reason);

    [LoggerMessage(4001, LogLevel.Information, "pulling image {Image} on {Engine}")]
    public static partial void PullingImage(ILogger logger, string image, string engine);

    [LoggerMessage(4002, LogLevel.Information, "container {Container} on {Engine} is reused (same image and settings)")]
    public static partial void ContainerReused(ILogger logger, string container, string engine);

    [LoggerMessage(4003, LogLevel.Information, "container {Container} created on {Engine}: {Profile}")]
    public static partial void ContainerCreated(ILogger logger, string container, string engine, string profile);

    [LoggerMessage(4006, LogLevel.Warning, "container {Container} on {Engine} runs with the hardened profile relaxed: {Relaxations}")]
    public static partial void ContainerRelaxed(ILogger logger, string container, string engine, string relaxations);

    [LoggerMessage(4007, LogLevel.Information, "waiting to create a container on {Engine}: at most {PerSecond} creations per second (AffinetesClientOptions.MaxContainerCreationsPerSecond)")]
    public static partial void CreationRateWait(ILogger logger, string engine, double perSecond);

    [LoggerMessage(4004, LogLevel.Warning, "removing container {Container} failed: {Reason}")]
    public static partial void ContainerRemoveFailed(ILogger logger, string container, string reason);

    [LoggerMessage(4005, LogLevel.Warning, "writing the log file {Path} failed: {Reason}")]
    public static partial void LogFileFailed(ILogger logger, string path, string reason);

    [LoggerMessage(5001, LogLevel.Information, "creating basilica deployment {Name} of {Image}: {Replicas} replicas, TTL {TtlSeconds} s")]
    public static partial void DeploymentCreating(ILogger logger, string name, string image, int replicas, long ttlSeconds);

    [LoggerMessage(5002, LogLevel.Information, "basilica named the deployment {Answered} (asked for {Requested}); it is called by that name from now on")]
    public static partial void DeploymentRenamed(ILogger logger, string requested, string answered);

    [LoggerMessage(5003, LogLevel.Information, "basilica deployment {Name}: {State}/{Phase}, {Ready}/{Desired} ready{Progress}{Message}")]
    public static partial void DeploymentStatus(ILogger logger, string name, string state, string phase, int ready, int desired, string progress, string message);

    [LoggerMessage(5004, LogLevel.Information, "basilica deployment {Name} is ready at {Url} after {ElapsedMs:0} ms")]
    public static partial void DeploymentReady(ILogger logger, string name, string url, double elapsedMs);

    [LoggerMessage(5005, LogLevel.Information, "basilica deployment {Name} {Outcome}")]
    public static partial void DeploymentDeleted(ILogger logger, string name, string outcome);

    [LoggerMessage(5006, LogLevel.Error, "deleting basilica deployment {Name} failed: {Reason}; the next Basilica job of this user (or BasilicaDeployments.DeleteAllMineAsync) removes it, else its TTL ends it at {ExpiresAt}")]
    public static partial void DeploymentDeleteFailed(ILogger logger, string name, string reason, string expiresAt);

    [LoggerMessage(5008, LogLevel.Debug, "basilica requests to {Api} wait for the API rate (BasilicaOptions.ApiRequestsPerSecond)")]
    public static partial void BasilicaRateWait(ILogger logger, string api);

    [LoggerMessage(5009, LogLevel.Warning, "basilica deployment {Name} of a process that is gone ({Owner}) is deleted: {Outcome}")]
    public static partial void AbandonedDeploymentRemoved(ILogger logger, string name, string owner, string outcome);

    [LoggerMessage(5010, LogLevel.Warning, "basilica deployment {Name} is lost: {Reason}")]
    public static partial void DeploymentLost(ILogger logger, string name, string reason);

    [LoggerMessage(5007, LogLevel.Information, "basilica {Request} is retried (attempt {Attempt}) in {DelayMs:0} ms: {Reason}")]
    public static partial void BasilicaRetry(ILogger logger, string request, int attempt, string reason, double delayMs);
}
