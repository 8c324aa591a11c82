using System.Text.Json;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Episodes;

/// <summary>
/// One open episode, pinned to the replica that answered its <c>reset</c>: <c>step</c>, <c>state</c> and
/// <c>stop</c> carry its <see cref="EpisodeId"/> and go to <see cref="Replica"/> alone. When that replica dies, is
/// replaced or forgets the episode, every call fails with <see cref="EpisodeLostException"/>; nothing is sent
/// elsewhere. Disposing stops it (idempotent; never throws for an episode or replica already gone). One call at a time.
/// </summary>
public interface IEpisode : IAsyncDisposable
{
    /// <summary>The id the environment gave the episode.</summary>
    string EpisodeId { get; }

    /// <summary>The replica that holds the episode.</summary>
    ReplicaEndpoint Replica { get; }

    /// <summary>The answer of <c>reset</c>: the first observation and the environment's info.</summary>
    StepResult Reset { get; }

    /// <summary>The latest answer: of <c>reset</c>, then of each <c>step</c> or <c>state</c>.</summary>
    StepResult Last { get; }

    /// <summary>True once stopped (or disposed), or lost with its replica.</summary>
    bool IsEnded { get; }

    /// <summary>
    /// Calls <c>step(action, episode_id, **kwargs)</c>. Throws <see cref="EpisodeStoppedException"/> without a call
    /// once the episode was stopped, and <see cref="EpisodeLostException"/> when its replica is gone or answers that it
    /// does not know the episode (<c>info.error.type</c> <c>episode_not_found</c>).
    /// </summary>
    Task<StepResult> StepAsync(string action, IReadOnlyDictionary<string, object?>? kwargs = null, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default);

    /// <summary>Calls <c>state(episode_id)</c>: the current observation without a move; fails like <see cref="StepAsync"/>.</summary>
    Task<StepResult> StateAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Calls <c>stop(episode_id)</c>, or <c>close()</c> when the environment has no <c>stop</c> (as the original's
    /// client does), and ends the episode here; returns the answer. Once ended, or when its replica is gone or the
    /// environment has neither method, nothing is sent and null is returned.
    /// </summary>
    Task<JsonElement?> StopAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default);
}
