using System.Globalization;
using System.Text.Json;

namespace Affinetes.ValidatorClient.Episodes;

/// <summary>How the answers of <c>reset</c>, <c>step</c> and <c>state</c> are read, and where the episode id is found (as the original's client finds it).</summary>
internal static class OpenEnvAnswers
{
    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    /// <summary>The answer of <paramref name="method"/> as a <see cref="StepResult"/>; throws <see cref="OpenEnvAnswerException"/> when it is not one.</summary>
    public static StepResult Read(string method, JsonElement answer)
    {
        if (answer.ValueKind != JsonValueKind.Object)
        {
            throw new OpenEnvAnswerException(method,
                $"{method} answered {Describe(answer)}, not an OpenEnv response object (observation, reward, done, truncated, episode_id, info)");
        }
        var observation = answer.TryGetProperty("observation", out var o) ? o : default;
        var info = answer.TryGetProperty("info", out var i) && i.ValueKind != JsonValueKind.Null ? i : EmptyObject;
        return new StepResult
        {
            Observation = observation,
            Reward = Reward(method, answer),
            Done = Flag(method, answer, "done"),
            Truncated = Flag(method, answer, "truncated"),
            EpisodeId = answer.TryGetProperty("episode_id", out var id) ? IdText(id) : null,
            Info = info,
            Raw = answer,
        };
    }

    /// <summary>
    /// The episode id of a <c>reset</c> answer where the original's client looks: <c>episode_id</c>, else
    /// <c>info.episode_id</c>, else <c>info.ident.episode_id</c> (an empty string or a zero counts as none).
    /// </summary>
    public static string? EpisodeId(StepResult reset)
    {
        if (reset.EpisodeId is { } top)
        {
            return top;
        }
        if (reset.Info.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        if (reset.Info.TryGetProperty("episode_id", out var inInfo) && IdText(inInfo) is { } fromInfo)
        {
            return fromInfo;
        }
        return reset.Info.TryGetProperty("ident", out var ident) && ident.ValueKind == JsonValueKind.Object
            && ident.TryGetProperty("episode_id", out var inIdent) ? IdText(inIdent) : null;
    }

    /// <summary>The keys of an answer, for a message that says what it had instead.</summary>
    public static string Keys(JsonElement element) => element.ValueKind == JsonValueKind.Object
        ? string.Join(", ", element.EnumerateObject().Select(p => p.Name).Take(20))
        : element.ValueKind.ToString().ToLowerInvariant();

    private static string? IdText(JsonElement id) => id.ValueKind switch
    {
        JsonValueKind.String when id.GetString() is { Length: > 0 } text => text,
        JsonValueKind.Number when id.GetRawText() is var text && text is not ("0" or "0.0") => text,
        _ => null,
    };

    private static double Reward(string method, JsonElement answer)
    {
        if (!answer.TryGetProperty("reward", out var reward) || reward.ValueKind == JsonValueKind.Null)
        {
            return 0;
        }
        return reward.ValueKind == JsonValueKind.Number && reward.TryGetDouble(out var value) && double.IsFinite(value)
            ? value
            : throw new OpenEnvAnswerException(method, $"{method} answered a reward of {Describe(reward)}; a reward is a finite number");
    }

    private static bool Flag(string method, JsonElement answer, string name) =>
        !answer.TryGetProperty(name, out var flag) ? false : flag.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False or JsonValueKind.Null => false,
            _ => throw new OpenEnvAnswerException(method, $"{method} answered {name}: {Describe(flag)}; {name} is true or false"),
        };

    private static string Describe(JsonElement value)
    {
        var text = value.ValueKind == JsonValueKind.Undefined ? "nothing" : value.GetRawText();
        return text.Length <= 80 ? text : text[..80].ToString(CultureInfo.InvariantCulture) + "...";
    }
}
