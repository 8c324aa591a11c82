using Affinetes.ValidatorClient.Backends.Basilica;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Jobs;

/// <summary>
/// What the job services do around an evaluation on Basilica: before anything is created, delete the deployments
/// left by validators of this user that were killed (their notes name a process that is gone); give the one
/// deployment a TTL that covers the whole evaluation; take the cache key from a reference pinned by digest (a
/// Basilica image is never pulled here, so there is no other id); and end a run whose deployment is lost.
/// </summary>
internal static class BasilicaJobs
{
    /// <summary>The longest TTL Basilica options accept.</summary>
    private static readonly TimeSpan LongestTtl = TimeSpan.FromDays(7);

    /// <summary>
    /// Deletes what killed validators of this user left on the options' API (and, with <paramref name="checkAccess"/>,
    /// asks the API once first, so that a wrong key or an unreachable API fails the job before anything is created).
    /// </summary>
    public static async Task PrepareAsync(BasilicaOptions options, ILoggerFactory loggers, IProgress<string>? notes, bool checkAccess, CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger("Affinetes.ValidatorClient.Jobs");
        using var deployments = new BasilicaDeployments(options, loggers.CreateLogger("Affinetes.ValidatorClient.Basilica"));
        if (checkAccess)
        {
            await deployments.ListMineAsync(cancellationToken);
        }
        var removed = await deployments.RemoveAbandonedAsync(cancellationToken);
        if (removed.Count > 0)
        {
            var names = string.Join(", ", removed.Select(r => r.Deployment.Name is { } name ? $"{r.Deployment.InstanceName} ({name})" : r.Deployment.InstanceName));
            JobsLog.AbandonedRemoved(logger, removed.Count, names);
            notes?.Report($"deleted {removed.Count} Basilica deployment{(removed.Count == 1 ? "" : "s")} left by validators of this user that are gone: {names}");
        }
    }

    /// <summary>
    /// The options with a TTL for a deployment shared by a whole evaluation, unless one was set: the ready timeout,
    /// plus as many rounds of <paramref name="tasks"/> as the concurrency makes, each the task deadline times its
    /// attempts, plus the buffer; at most 7 days. A validator killed mid-run leaves it no longer than that (and the
    /// next job deletes it sooner).
    /// </summary>
    public static EnvironmentOptions WithRunTtl(EnvironmentOptions options, EvaluationRequest request, int tasks)
    {
        if (options.Mode != EnvironmentMode.Basilica || options.Basilica.Ttl is not null)
        {
            return options;
        }
        var deadline = request.TaskTimeout is { } timeout && timeout != Timeout.InfiniteTimeSpan ? timeout : request.TaskTimeout is null ? CallDeadlines.EvaluationDefault : LongestTtl;
        var rounds = Math.Max(1, (tasks + request.Concurrency - 1) / Math.Max(1, request.Concurrency));
        var ttl = options.ReadyTimeout + options.Basilica.TtlBuffer + TimeSpan.FromTicks((long)Math.Min(LongestTtl.Ticks, (double)deadline.Ticks * rounds * (request.Retries + 1)));
        return options with { Basilica = options.Basilica with { Ttl = ttl < LongestTtl ? ttl : LongestTtl } };
    }

    /// <summary><see cref="WithRunTtl(EnvironmentOptions, EvaluationRequest, int)"/> for a stored run being resumed.</summary>
    public static EnvironmentOptions WithRunTtl(EnvironmentOptions options, RunInfo info) =>
        WithRunTtl(options, new EvaluationRequest { TaskIds = [1], Concurrency = info.Concurrency, TaskTimeout = info.TaskTimeout, Retries = info.Retries }, info.TaskCount);

    /// <summary>The digest of a reference pinned by it (<c>NAME@sha256:HEX</c>); null for a tag, which names whatever was pushed last.</summary>
    public static string? PinnedDigest(string image)
    {
        var at = image.LastIndexOf('@');
        var digest = at < 0 ? null : image[(at + 1)..];
        return digest is { Length: 71 } && digest.StartsWith("sha256:", StringComparison.Ordinal) && digest[7..].All(char.IsAsciiHexDigitLower) ? digest : null;
    }

    /// <summary>The run, ended with the deployment's phase, message and events when Basilica reports it lost (on Basilica only).</summary>
    public static IEvaluationRun Watch(IEvaluationRun run, IEnvironment environment) =>
        environment is AffinetesEnvironment { Backend: BasilicaBackend basilica } ? new DeploymentWatchedRun(run, basilica.Lost) : run;
}
