using System.Text.Json.Serialization;

namespace Affinetes.Actors;

/// <summary>
/// What <c>reset</c>, <c>step</c> and <c>state</c> of an interactive (OpenEnv) C# actor return: the Python original's
/// <c>affinetes.core.openenv.OpenEnvResponse</c>, with its fields, defaults, JSON names and order, so that validators
/// read a C# environment's episodes as they read a Python one's:
/// <code>
/// public async Task&lt;OpenEnvResponse&gt; Reset(long? taskId = null, long? seed = null) =&gt;
///     new() { Observation = "Guess a number between 1 and 100.", EpisodeId = NewEpisode(taskId, seed) };
/// </code>
/// A bad step is reported the original's way: <c>Info["error"] = new { type = "action_parse" }</c> (or
/// <c>episode_not_found</c> with <see cref="Done"/> and <see cref="Truncated"/> for an episode the actor does not know).
/// </summary>
public sealed record OpenEnvResponse
{
    /// <summary>What the player sees next (usually text).</summary>
    [JsonPropertyName("observation")]
    public required string Observation { get; init; }

    /// <summary>The reward of this step.</summary>
    [JsonPropertyName("reward")]
    public double Reward { get; init; }

    /// <summary>The episode ended.</summary>
    [JsonPropertyName("done")]
    public bool Done { get; init; }

    /// <summary>The episode was cut short by a limit rather than played to its end.</summary>
    [JsonPropertyName("truncated")]
    public bool Truncated { get; init; }

    /// <summary>The episode this answer belongs to; <c>reset</c> must name the one it opened.</summary>
    [JsonPropertyName("episode_id")]
    public string? EpisodeId { get; init; }

    /// <summary>Anything else (task id, seed, an <c>error</c> object); an empty object when there is nothing.</summary>
    [JsonPropertyName("info")]
    public IReadOnlyDictionary<string, object?> Info { get; init; } = new Dictionary<string, object?>();
}
