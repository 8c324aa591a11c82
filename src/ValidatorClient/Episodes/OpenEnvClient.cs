using Affinetes.ValidatorClient.Environments;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Episodes;

/// <summary>
/// Opens episodes of one environment: a replica is leased for each (the fewest open episodes first), <c>reset</c>
/// is sent to it alone, and the episode keeps the lease until it ends.
/// </summary>
/// <param name="environment">The environment's name, for messages.</param>
/// <param name="lease">A replica for a new episode, avoiding those given (where a reset just failed).</param>
/// <param name="openEpisodes">Open episodes per live replica.</param>
/// <param name="defaultTimeout">The deadline of a call that names none (null: none).</param>
/// <param name="logger">Where episodes log.</param>
internal sealed class OpenEnvClient(string environment, Func<IReadOnlyCollection<ReplicaEndpoint>, CancellationToken, Task<EpisodeLease>> lease,
    Func<IReadOnlyList<ReplicaEpisodes>> openEpisodes, TimeSpan? defaultTimeout, ILogger logger) : IOpenEnvClient
{
    /// <summary>Resets tried at most for one episode (each on another replica), for backends where the pool cannot tell them apart.</summary>
    private const int MaxResets = 8;

    /// <summary>
    /// How long a reset the caller cancelled may still run: its answer names the episode it opened, which is then
    /// stopped, so that a cancelled caller leaves nothing in the replica's memory.
    /// </summary>
    private static readonly TimeSpan SettleAfterCancel = TimeSpan.FromSeconds(10);

    public IReadOnlyList<ReplicaEpisodes> OpenEpisodes => openEpisodes();

    internal ILogger Logger => logger;

    /// <summary>The deadline of one call: <paramref name="timeout"/>, else the environment's default; <see cref="Timeout.InfiniteTimeSpan"/> for none.</summary>
    internal TimeSpan? Deadline(TimeSpan? timeout)
    {
        if (timeout is { } t && t <= TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), t, "a call's timeout must be positive, or Timeout.InfiniteTimeSpan for none");
        }
        return timeout == Timeout.InfiniteTimeSpan ? null : timeout ?? defaultTimeout;
    }

    public async Task<IEpisode> ResetAsync(long? taskId = null, long? seed = null, IReadOnlyDictionary<string, object?>? kwargs = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal) { ["task_id"] = taskId, ["seed"] = seed };
        foreach (var (name, value) in kwargs ?? new Dictionary<string, object?>())
        {
            if (!arguments.TryAdd(name, value))
            {
                throw new ArgumentException($"kwargs name '{name}', which ResetAsync sends itself; pass it as the {(name == "task_id" ? "taskId" : "seed")} parameter", nameof(kwargs));
            }
        }
        var deadline = Deadline(timeout);
        var avoid = new List<ReplicaEndpoint>();
        while (true)
        {
            var held = await lease(avoid, cancellationToken);
            StepResult answer;
            using var settling = new CancellationTokenSource();
            using var cancelled = cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).CancelAfter(SettleAfterCancel), settling);
            try
            {
                answer = OpenEnvAnswers.Read("reset", await held.CallAsync("reset", arguments, deadline, settling.Token));
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await held.DisposeAsync();
                throw new OperationCanceledException(cancellationToken);
            }
            catch (EnvironmentUnavailableException e) when (!cancellationToken.IsCancellationRequested && avoid.Count + 1 < MaxResets)
            {
                // The replica did not take the reset (gone, refusing, unreachable): no episode of ours lives there.
                await held.DisposeAsync();
                avoid.Add(held.Replica);
                EpisodeLog.ResetPassedOver(logger, held.Replica.Description, environment, e.Message);
                continue;
            }
            catch
            {
                await held.DisposeAsync();
                throw;
            }
            if (OpenEnvAnswers.EpisodeId(answer) is not { } episodeId)
            {
                await held.DisposeAsync();
                throw new OpenEnvAnswerException("reset",
                    $"reset on {held.Replica.Description} answered no episode id (looked at episode_id, info.episode_id and info.ident.episode_id; " +
                    $"the answer has {OpenEnvAnswers.Keys(answer.Raw)}; info has {OpenEnvAnswers.Keys(answer.Info)}); an interactive environment's reset " +
                    "must name the episode it opened");
            }
            EpisodeLog.Opened(logger, episodeId, environment, held.Replica.Description);
            var episode = new Episode(this, held, episodeId, answer);
            if (cancellationToken.IsCancellationRequested)
            {
                await episode.DisposeAsync(); // opened for a caller who is gone: stopped at once
                throw new OperationCanceledException(cancellationToken);
            }
            return episode;
        }
    }
}
