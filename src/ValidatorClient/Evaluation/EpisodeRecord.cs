using System.Buffers;
using System.Text.Json;
using Affinetes.ValidatorClient.Episodes;

namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>
/// What an episode left: the task result's value, one JSON object (rendered by <c>afs view</c>; keep the names):
/// <code>
/// {"score", "success", "reward", "done", "truncated", "steps", "episode_id",
///  "reset": {"observation", "info"},
///  "trajectory": [{"step", "action", "observation", "reward", "done", "truncated", "info",
///                  "model": {"latency_ms", "prompt_tokens", "completion_tokens"}}],
///  "stop_reason"}
/// </code>
/// <c>reward</c> is the total of the steps' rewards; <c>score</c> is that total for an episode played to its end (stop
/// reason <c>done</c>, <c>truncated</c> or <c>max_steps</c>) and 0 for one that failed (stop reason: the failure's
/// kind, e.g. <c>episode_lost</c>, <c>model_error</c>, <c>deadline</c>); <c>success</c> is true when the environment
/// said <c>done</c> and the total reward is positive. <c>done</c> and <c>truncated</c> are the last answer's. The
/// conversation with the model is not kept apart: it is the reset observation, then each step's action and observation.
/// </summary>
internal sealed class EpisodeRecord
{
    private readonly List<(PolicyReply Reply, StepResult Step)> _steps = [];
    private IEpisode? _episode;

    public int Steps => _steps.Count;

    public double Reward { get; private set; }

    public void Opened(IEpisode episode) => _episode = episode;

    public void Stepped(PolicyReply reply, StepResult step)
    {
        _steps.Add((reply, step));
        Reward += step.Reward;
    }

    /// <summary>The value of an episode that ended with <paramref name="stopReason"/>; <paramref name="failed"/> scores it 0.</summary>
    public JsonElement ToValue(string stopReason, bool failed)
    {
        var last = _steps.Count > 0 ? _steps[^1].Step : _episode?.Reset;
        var done = last?.Done ?? false;
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("score", failed ? 0 : Reward);
            writer.WriteBoolean("success", !failed && done && Reward > 0);
            writer.WriteNumber("reward", Reward);
            writer.WriteBoolean("done", done);
            writer.WriteBoolean("truncated", last?.Truncated ?? false);
            writer.WriteNumber("steps", _steps.Count);
            if (_episode is null)
            {
                writer.WriteNull("episode_id");
                writer.WriteNull("reset");
            }
            else
            {
                writer.WriteString("episode_id", _episode.EpisodeId);
                writer.WriteStartObject("reset");
                Write(writer, "observation", _episode.Reset.Observation);
                writer.WritePropertyName("info");
                _episode.Reset.Info.WriteTo(writer);
                writer.WriteEndObject();
            }
            writer.WriteStartArray("trajectory");
            for (var i = 0; i < _steps.Count; i++)
            {
                var (reply, step) = _steps[i];
                writer.WriteStartObject();
                writer.WriteNumber("step", i + 1);
                writer.WriteString("action", reply.Text);
                Write(writer, "observation", step.Observation);
                writer.WriteNumber("reward", step.Reward);
                writer.WriteBoolean("done", step.Done);
                writer.WriteBoolean("truncated", step.Truncated);
                writer.WritePropertyName("info");
                step.Info.WriteTo(writer);
                writer.WriteStartObject("model");
                writer.WriteNumber("latency_ms", Math.Round(reply.LatencyMs, 1));
                writer.WriteNumber("prompt_tokens", reply.PromptTokens);
                writer.WriteNumber("completion_tokens", reply.CompletionTokens);
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteString("stop_reason", stopReason);
            writer.WriteEndObject();
        }
        // One pass into an element that owns its bytes (Parse, then Clone, would copy them twice).
        var reader = new Utf8JsonReader(buffer.WrittenSpan);
        return JsonElement.ParseValue(ref reader);
    }

    private static void Write(Utf8JsonWriter writer, string name, JsonElement value)
    {
        writer.WritePropertyName(name);
        if (value.ValueKind == JsonValueKind.Undefined)
        {
            writer.WriteNullValue();
        }
        else
        {
            value.WriteTo(writer);
        }
    }
}
