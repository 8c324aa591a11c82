using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Episodes;

/// <summary>
/// The interactive (OpenEnv) side of an environment, from <see cref="IEnvironment.OpenEnv"/>: <c>reset</c> opens an
/// episode, which then lives in the memory of the one replica that answered; every later call of it goes to that
/// replica alone (<see cref="IEpisode"/>).
/// <code>
/// await using var episode = await env.OpenEnv().ResetAsync(taskId: 7);
/// var step = await episode.StepAsync("500");   // step.Observation, step.Reward, step.Done
/// </code>
/// </summary>
public interface IOpenEnvClient
{
    /// <summary>
    /// Calls <c>reset(task_id, seed, **kwargs)</c> (both sent, null when not given, as the original's client does) on
    /// the replica with the fewest open episodes, and returns the episode it opened. A replica that does not take the
    /// call is passed over for another; an answer without an episode id (<c>episode_id</c>, <c>info.episode_id</c>,
    /// <c>info.ident.episode_id</c>) fails with <see cref="OpenEnvAnswerException"/>. <paramref name="timeout"/> as in
    /// <see cref="IEnvironment.CallAsync(string, IReadOnlyList{object?}?, IReadOnlyDictionary{string, object?}?, TimeSpan?, CancellationToken)"/>.
    /// </summary>
    Task<IEpisode> ResetAsync(long? taskId = null, long? seed = null, IReadOnlyDictionary<string, object?>? kwargs = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>Open episodes per live replica (those reset and not yet stopped or lost), in replica order.</summary>
    IReadOnlyList<ReplicaEpisodes> OpenEpisodes { get; }
}

/// <summary>How many open episodes one replica holds.</summary>
public sealed record ReplicaEpisodes(ReplicaEndpoint Replica, int Open);
