using System.Text.Json;

namespace Affinetes.ValidatorClient.Episodes;

/// <summary>
/// One answer of an interactive (OpenEnv) environment to <c>reset</c>, <c>step</c> or <c>state</c>: the original's
/// <c>OpenEnvResponse</c> (<c>observation</c>, <c>reward</c>, <c>done</c>, <c>truncated</c>, <c>episode_id</c>,
/// <c>info</c>) as read by the client.
/// </summary>
public sealed record StepResult
{
    /// <summary>What the environment shows: usually text, any JSON value is kept as it came.</summary>
    public JsonElement Observation { get; init; }

    /// <summary>The reward of this step (0 when the answer has none).</summary>
    public double Reward { get; init; }

    /// <summary>The episode ended (a win, a loss, or the environment gave up on it).</summary>
    public bool Done { get; init; }

    /// <summary>The episode was cut short (a limit of the environment) rather than played to its end.</summary>
    public bool Truncated { get; init; }

    /// <summary>The episode the answer names, when it names one.</summary>
    public string? EpisodeId { get; init; }

    /// <summary>The environment's extra information (an object; empty when the answer has none).</summary>
    public JsonElement Info { get; init; }

    /// <summary>The answer as the environment sent it.</summary>
    public JsonElement Raw { get; init; }

    /// <summary>The observation as text for a model or a person: a string as it is, <c>null</c> as empty, any other value as its JSON.</summary>
    public string ObservationText => Observation.ValueKind switch
    {
        JsonValueKind.String => Observation.GetString()!,
        JsonValueKind.Null or JsonValueKind.Undefined => "",
        _ => Observation.GetRawText(),
    };

    /// <summary>
    /// <c>info.error.type</c> when the environment reports a bad step that way (<c>action_parse</c>,
    /// <c>out_of_range</c>, <c>episode_done</c>, <c>episode_not_found</c> in the original's games); else null.
    /// </summary>
    public string? ErrorType =>
        Info.ValueKind == JsonValueKind.Object && Info.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
        && error.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()
            : null;
}
