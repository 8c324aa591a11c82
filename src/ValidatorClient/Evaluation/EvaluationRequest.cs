using System.Text.Json;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>
/// One evaluation: call <see cref="Method"/> once per task id with the same <see cref="Kwargs"/> (the task id as
/// <see cref="TaskIdParameter"/>), at most <see cref="Concurrency"/> at a time. Checked once by
/// <see cref="Validate"/>, which says how to fix what cannot work.
/// </summary>
public sealed record EvaluationRequest
{
    /// <summary>The Actor method to call for each task.</summary>
    public string Method { get; init; } = "evaluate";

    /// <summary>The tasks, in the order they are started; a repeated id runs once.</summary>
    public required IReadOnlyList<long> TaskIds { get; init; }

    /// <summary>The keyword arguments every task gets (model, base_url ...); any value System.Text.Json writes.</summary>
    public IReadOnlyDictionary<string, object?> Kwargs { get; init; } = new Dictionary<string, object?>();

    /// <summary>The keyword that carries the task id.</summary>
    public string TaskIdParameter { get; init; } = "task_id";

    /// <summary>Tasks in flight at most.</summary>
    public int Concurrency { get; init; } = 20;

    /// <summary>
    /// Deadline of each attempt (the environment cancels the work past it). Null: the runner sets
    /// <see cref="CallDeadlines.For"/> of the kwargs (their <c>timeout</c> + 10 s, else 600 s) and stores it with the run;
    /// <see cref="Timeout.InfiniteTimeSpan"/>: no deadline, only when asked for.
    /// </summary>
    public TimeSpan? TaskTimeout { get; init; }

    /// <summary>
    /// Further attempts of a task that failed transiently (<see cref="AffinetesException.IsRetryable"/>: a deadline,
    /// no replica answering). An actor's own error is never retried.
    /// </summary>
    public int Retries { get; init; }

    /// <summary>Wait before the first retry; doubled for each further one, with jitter.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Serve a task from the store when a successful result with the same image digest, method, kwargs and task id
    /// is there. Needs a store and <see cref="ImageDigest"/>.
    /// </summary>
    public bool UseCache { get; init; } = true;

    /// <summary>What identifies the environment's code for the cache: the image digest (<c>sha256:...</c>). Without it nothing is served from the cache.</summary>
    public string? ImageDigest { get; init; }

    /// <summary>The environment as the user named it (image, directory or URL), kept with the run.</summary>
    public string? Environment { get; init; }

    /// <summary>Free text kept with the run (e.g. "model: affinetes-baseline").</summary>
    public string? Label { get; init; }

    /// <summary>
    /// Store each task's transcript (its exchanges with the model through the LLM gateway) with its result (default
    /// true). False: nothing the model was sent or answered is stored, only the usage figures; to keep prompts out
    /// of the gateway's memory too, turn <see cref="Environments.LlmAccessOptions.RecordExchanges"/> off.
    /// </summary>
    public bool RecordTranscripts { get; init; } = true;

    /// <summary>
    /// What the caller keeps with the run to resume it as it was started (replicas, network, model side ...); the
    /// runner stores it and gives it back in <see cref="Results.RunInfo.Settings"/>, and nothing else reads it.
    /// </summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Null (the default): each task is one call of <see cref="Method"/>. Set: each task is one episode of an
    /// interactive environment played by a model, with these settings (<see cref="EpisodeSettings"/>); the run is
    /// stored under the method <c>episode</c>, and its results are stored, cached and resumed like any other.
    /// </summary>
    public EpisodeSettings? Episodes { get; init; }

    /// <summary>Checks the request once; throws <see cref="EvaluationOptionsException"/> saying how to fix it.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Method))
        {
            throw new EvaluationOptionsException("the method to evaluate is empty; name one, e.g. evaluate");
        }
        if (TaskIds is null || TaskIds.Count == 0)
        {
            throw new EvaluationOptionsException("no tasks to evaluate; give task ids, e.g. 1-100,200");
        }
        if (string.IsNullOrWhiteSpace(TaskIdParameter))
        {
            throw new EvaluationOptionsException("the task id parameter is empty; the default is task_id");
        }
        if (Kwargs.ContainsKey(TaskIdParameter))
        {
            throw new EvaluationOptionsException($"kwargs contain '{TaskIdParameter}', which the runner sets for each task; remove it and give the ids as tasks");
        }
        if (Kwargs.ContainsKey(EpisodeSettings.StoredKwarg))
        {
            throw new EvaluationOptionsException($"kwargs contain '{EpisodeSettings.StoredKwarg}', which the runner keeps the episode settings in; rename it");
        }
        if (Concurrency is < 1 or > 4096)
        {
            throw new EvaluationOptionsException($"concurrency is {Concurrency}; use 1 to 4096");
        }
        if (TaskTimeout is { } timeout && timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new EvaluationOptionsException($"the task timeout is {timeout.TotalSeconds} s; it must be positive (or Timeout.InfiniteTimeSpan for none)");
        }
        if (Retries is < 0 or > 100)
        {
            throw new EvaluationOptionsException($"retries is {Retries}; use 0 to 100");
        }
        if (RetryDelay < TimeSpan.Zero)
        {
            throw new EvaluationOptionsException("the retry delay must not be negative");
        }
        if (Episodes is not null)
        {
            ValidateEpisodeMode(Episodes);
        }
    }

    private void ValidateEpisodeMode(EpisodeSettings episodes)
    {
        if (Method is not ("evaluate" or EpisodeSettings.MethodName))
        {
            throw new EvaluationOptionsException($"in episode mode each task is an episode (reset, step, stop), not a call of '{Method}'; leave Method unset, or leave Episodes unset to call {Method}");
        }
        if (TaskIdParameter != "task_id")
        {
            throw new EvaluationOptionsException($"in episode mode the task id goes to reset as task_id; the task id parameter '{TaskIdParameter}' cannot be used");
        }
        if (Kwargs.TryGetValue("seed", out var seed) && EpisodeSettings.Seed(seed) is null)
        {
            throw new EvaluationOptionsException($"the seed kwarg is {seed}; in episode mode it goes to reset as an integer (leave it out: each task's seed is then its id)");
        }
        if (episodes.Problem() is { } problem)
        {
            throw new EvaluationOptionsException(problem);
        }
    }

    /// <summary>The kwargs as stored with the run: in episode mode with the settings under <see cref="EpisodeSettings.StoredKwarg"/>, so that the cache tells settings apart.</summary>
    internal IReadOnlyDictionary<string, object?> StoredKwargs()
    {
        if (Episodes is null)
        {
            return Kwargs;
        }
        var stored = new Dictionary<string, object?>(Kwargs, StringComparer.Ordinal) { [EpisodeSettings.StoredKwarg] = Episodes.ToStored() };
        return stored;
    }

    /// <summary>A stored run's kwargs split back into the kwargs and the episode settings (null for a run of calls).</summary>
    internal static (Dictionary<string, object?> Kwargs, EpisodeSettings? Episodes) FromStored(IReadOnlyDictionary<string, JsonElement> stored)
    {
        var kwargs = stored.Where(kv => kv.Key != EpisodeSettings.StoredKwarg).ToDictionary(kv => kv.Key, kv => (object?)kv.Value, StringComparer.Ordinal);
        return (kwargs, stored.TryGetValue(EpisodeSettings.StoredKwarg, out var episodes) ? EpisodeSettings.FromStored(episodes) : null);
    }

    /// <summary>The tasks without repeats, in their first order.</summary>
    internal IReadOnlyList<long> DistinctTaskIds()
    {
        var seen = new HashSet<long>(TaskIds.Count);
        var distinct = new List<long>(TaskIds.Count);
        foreach (var id in TaskIds)
        {
            if (seen.Add(id))
            {
                distinct.Add(id);
            }
        }
        return distinct;
    }
}

/// <summary>An evaluation request that cannot run; the message says which setting and how to fix it.</summary>
public sealed class EvaluationOptionsException(string message) : AffinetesException(message);

/// <summary>The kwargs of a run in one canonical form: keys sorted at every level, so equal arguments compare equal as text.</summary>
internal static class CanonicalJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = null };

    /// <summary>The kwargs as canonical JSON text and as values ready to send.</summary>
    public static (string Text, IReadOnlyDictionary<string, JsonElement> Values) Of(IReadOnlyDictionary<string, object?> kwargs)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in kwargs.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                writer.WritePropertyName(key);
                Write(writer, value is JsonElement element ? element : JsonSerializer.SerializeToElement(value, Options));
            }
            writer.WriteEndObject();
        }
        var text = System.Text.Encoding.UTF8.GetString(buffer.ToArray());
        return (text, Parse(text));
    }

    /// <summary>Stored canonical kwargs as values ready to send.</summary>
    public static IReadOnlyDictionary<string, JsonElement> Parse(string canonical)
    {
        using var document = JsonDocument.Parse(canonical);
        return document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
    }

    private static void Write(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    Write(writer, item);
                }
                writer.WriteEndArray();
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}
