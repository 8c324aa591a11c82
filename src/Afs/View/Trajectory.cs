using System.Text.Json;

namespace Affinetes.Afs.View;

/// <summary>
/// The steps of an episode's result (an interactive environment's <c>Value</c> with a <c>trajectory</c> array:
/// <c>{"reset": {"observation", "info"}, "trajectory": [{"step", "action", "observation", "reward", "done",
/// "truncated", "info", "model": {"latency_ms", "prompt_tokens", "completion_tokens"}}], "stop_reason"}</c>), read
/// for the task page and <c>afs show --task</c>. Anything missing is left out, nothing is required.
/// </summary>
internal static class Trajectory
{
    public sealed record Step(long Number, JsonElement? Action, JsonElement? Observation, double? Reward, bool Done, bool Truncated,
        JsonElement? Info, double? LatencyMs, long? PromptTokens, long? CompletionTokens);

    public sealed record Episode(JsonElement? FirstObservation, IReadOnlyList<Step> Steps, string? StopReason);

    /// <summary>The episode in <paramref name="value"/>, or null when it has no <c>trajectory</c> array.</summary>
    public static Episode? Of(JsonElement? value)
    {
        if (value is not { ValueKind: JsonValueKind.Object } root || !root.TryGetProperty("trajectory", out var trajectory) || trajectory.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        var steps = new List<Step>(trajectory.GetArrayLength());
        foreach (var step in trajectory.EnumerateArray().Where(s => s.ValueKind == JsonValueKind.Object))
        {
            var model = Get(step, "model") is { ValueKind: JsonValueKind.Object } m ? m : (JsonElement?)null;
            steps.Add(new Step(
                Get(step, "step") is { ValueKind: JsonValueKind.Number } n && n.TryGetInt64(out var number) ? number : steps.Count + 1,
                Get(step, "action"), Get(step, "observation"), Number(Get(step, "reward")), Get(step, "done")?.ValueKind == JsonValueKind.True,
                Get(step, "truncated")?.ValueKind == JsonValueKind.True, Get(step, "info"),
                Number(model is { } lm ? Get(lm, "latency_ms") : null), (long?)Number(model is { } pm ? Get(pm, "prompt_tokens") : null),
                (long?)Number(model is { } cm ? Get(cm, "completion_tokens") : null)));
        }
        var reset = Get(root, "reset") is { ValueKind: JsonValueKind.Object } r ? Get(r, "observation") : null;
        return new Episode(reset, steps, Get(root, "stop_reason") is { ValueKind: JsonValueKind.String } reason ? reason.GetString() : null);
    }

    /// <summary>A value as text to read: a string as it is (newlines real), anything else as indented JSON.</summary>
    public static string Text(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString()! : JsonSerializer.Serialize(value, Indented);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static JsonElement? Get(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined) ? value : null;

    private static double? Number(JsonElement? element) => element is { ValueKind: JsonValueKind.Number } n ? n.GetDouble() : null;
}
