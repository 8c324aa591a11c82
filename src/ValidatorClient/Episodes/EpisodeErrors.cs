using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Episodes;

/// <summary>
/// The episode cannot go on: the replica that holds it in memory died or was replaced, stopped answering, or no longer
/// knows it (it restarted). Its calls are never sent to another replica, which has no such episode; a new episode
/// (another <see cref="IOpenEnvClient.ResetAsync"/>) may succeed, so the error is retryable as a whole episode.
/// </summary>
public sealed class EpisodeLostException(string episodeId, ReplicaEndpoint replica, string reason, Exception? inner = null)
    : AffinetesException($"episode {episodeId} lost: replica {replica.Description} {reason}; the episode lived in its memory alone (start a new one)", inner)
{
    public string EpisodeId { get; } = episodeId;

    /// <summary>The replica that held the episode.</summary>
    public ReplicaEndpoint Replica { get; } = replica;

    /// <summary>Why, in the pool's or the environment's words.</summary>
    public string Reason { get; } = reason;

    public override bool IsRetryable => true;
}

/// <summary>A step or state of an episode that was stopped (or disposed): nothing was sent.</summary>
public sealed class EpisodeStoppedException(string episodeId, string method)
    : AffinetesException($"episode {episodeId} was stopped; {method} was not sent (start a new episode with ResetAsync)")
{
    public string EpisodeId { get; } = episodeId;
}

/// <summary>
/// An OpenEnv method answered something the protocol does not allow: a <c>reset</c> without an episode id (looked
/// for where the original's client looks), an answer that is not an object, a reward that is not a number.
/// </summary>
public sealed class OpenEnvAnswerException(string method, string message) : AffinetesException(message)
{
    /// <summary>The method that answered: <c>reset</c>, <c>step</c> or <c>state</c>.</summary>
    public string Method { get; } = method;
}
