using System.Text.Json;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>Why a task has no result from the actor. Stored by its <see cref="TaskErrorKinds.Name"/>.</summary>
public enum TaskErrorKind
{
    /// <summary>The call completed: the actor returned a result.</summary>
    None,

    /// <summary>The actor raised (<see cref="RemoteActorException"/>); never retried.</summary>
    ActorError,

    /// <summary>The environment has no such method (<see cref="MethodNotFoundException"/>).</summary>
    MethodNotFound,

    /// <summary>The arguments do not fit the method (<see cref="BadArgumentsException"/>).</summary>
    BadArguments,

    /// <summary>The task's deadline passed on every attempt (<see cref="DeadlineExceededException"/>).</summary>
    Deadline,

    /// <summary>No replica could serve the call (<see cref="EnvironmentUnavailableException"/>).</summary>
    Unavailable,

    /// <summary>Anything else between the runner and the actor (transport, an unreadable answer).</summary>
    Other,

    /// <summary>The result was larger than the limit (<see cref="ResultTooLargeException"/>); nothing of it was kept.</summary>
    ResultTooLarge,

    /// <summary>An episode's replica died, was replaced or forgot it (<see cref="Episodes.EpisodeLostException"/>); a new episode may succeed.</summary>
    EpisodeLost,

    /// <summary>
    /// The environment's OpenEnv answers do not fit the protocol (<see cref="Episodes.OpenEnvAnswerException"/>: a reset
    /// without an episode id ...), or a step went to an episode already stopped (<see cref="Episodes.EpisodeStoppedException"/>).
    /// </summary>
    EpisodeError,

    /// <summary>The model playing an episode failed: it answered nothing, a reply over the action limit, or its endpoint's error.</summary>
    ModelError,
}

/// <summary>The stable names of <see cref="TaskErrorKind"/>, as they appear in the store, JSON and summaries.</summary>
public static class TaskErrorKinds
{
    public static string Name(TaskErrorKind kind) => kind switch
    {
        TaskErrorKind.None => "none",
        TaskErrorKind.ActorError => "actor_error",
        TaskErrorKind.MethodNotFound => "method_not_found",
        TaskErrorKind.BadArguments => "bad_arguments",
        TaskErrorKind.Deadline => "deadline",
        TaskErrorKind.Unavailable => "unavailable",
        TaskErrorKind.ResultTooLarge => "result_too_large",
        TaskErrorKind.EpisodeLost => "episode_lost",
        TaskErrorKind.EpisodeError => "episode_error",
        TaskErrorKind.ModelError => "model_error",
        _ => "other",
    };

    public static TaskErrorKind Parse(string? name) => name switch
    {
        null or "none" => TaskErrorKind.None,
        "actor_error" => TaskErrorKind.ActorError,
        "method_not_found" => TaskErrorKind.MethodNotFound,
        "bad_arguments" => TaskErrorKind.BadArguments,
        "deadline" => TaskErrorKind.Deadline,
        "unavailable" => TaskErrorKind.Unavailable,
        "result_too_large" => TaskErrorKind.ResultTooLarge,
        "episode_lost" => TaskErrorKind.EpisodeLost,
        "episode_error" => TaskErrorKind.EpisodeError,
        "model_error" => TaskErrorKind.ModelError,
        _ => TaskErrorKind.Other,
    };

    /// <summary>The kind of a call's failure.</summary>
    public static TaskErrorKind Of(Exception error) => error switch
    {
        RemoteActorException => TaskErrorKind.ActorError,
        MethodNotFoundException => TaskErrorKind.MethodNotFound,
        BadArgumentsException => TaskErrorKind.BadArguments,
        DeadlineExceededException => TaskErrorKind.Deadline,
        EnvironmentUnavailableException => TaskErrorKind.Unavailable,
        ResultTooLargeException => TaskErrorKind.ResultTooLarge,
        Episodes.EpisodeLostException => TaskErrorKind.EpisodeLost,
        Episodes.OpenEnvAnswerException or Episodes.EpisodeStoppedException => TaskErrorKind.EpisodeError,
        ModelReplyException => TaskErrorKind.ModelError,
        _ => TaskErrorKind.Other,
    };
}

/// <summary>One failed attempt of a task (a retried one, or the last).</summary>
public sealed record AttemptError(int Attempt, TaskErrorKind Kind, string Message);

/// <summary>
/// The outcome of one task. A failed task is a result too (<see cref="ErrorKind"/> is not <c>None</c>), with
/// score 0 and success false. <see cref="Score"/> and <see cref="Success"/> are read from the actor's result by
/// <see cref="ScoreRule"/>.
/// </summary>
public sealed record TaskResult
{
    public required long TaskId { get; init; }

    /// <summary>The score by <see cref="ScoreRule"/>; 0 for a failed task.</summary>
    public double Score { get; init; }

    /// <summary>Whether the task succeeded by <see cref="ScoreRule"/>; false for a failed task.</summary>
    public bool Success { get; init; }

    /// <summary><c>None</c> when the actor returned a result; otherwise why not.</summary>
    public TaskErrorKind ErrorKind { get; init; }

    /// <summary>The last error's message, when <see cref="ErrorKind"/> is not <c>None</c>.</summary>
    public string? Error { get; init; }

    /// <summary>The actor's result, when it returned one.</summary>
    public JsonElement? Value { get; init; }

    /// <summary>Calls made (1 + retries); 0 for a result served from the store.</summary>
    public int Attempts { get; init; }

    /// <summary>Errors of the attempts that failed, retried ones included.</summary>
    public IReadOnlyList<AttemptError> AttemptErrors { get; init; } = [];

    /// <summary>When the first attempt started.</summary>
    public DateTimeOffset StartedAt { get; init; }

    /// <summary>From the first attempt's start to the last one's end, retry waits included.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>Served from the store (an earlier run's result for the same image, method, kwargs and task).</summary>
    public bool FromCache { get; init; }

    /// <summary>What the task used through the LLM gateway (stored with the result); null when nothing was counted.</summary>
    public LlmTaskUsage? LlmUsage { get; init; }

    /// <summary>
    /// What the task said to the model and got back through the LLM gateway (stored with the result unless
    /// <see cref="EvaluationRequest.RecordTranscripts"/> is false); null when nothing was recorded. Read back one task
    /// at a time with <see cref="ResultStore.GetResultAsync"/> (<see cref="ResultStore.GetResultsAsync"/> leaves it out).
    /// </summary>
    public LlmTranscript? Transcript { get; init; }

    /// <summary>True when the actor returned a result.</summary>
    public bool Completed => ErrorKind == TaskErrorKind.None;

    /// <summary>The row of this result in the store, when it was read from one.</summary>
    internal long StoreId { get; init; }

    /// <summary>The stored result this one was served from.</summary>
    internal long? CachedFrom { get; init; }
}

/// <summary>
/// How a result gives a score and a success flag (the actor's result is the JSON the method returned):
/// <list type="bullet">
/// <item>a number: score = the number, success = true;</item>
/// <item>an object with a numeric <c>score</c>: score = it; success = its <c>success</c> when that is a bool, else true;</item>
/// <item>an object without a numeric <c>score</c>: score = 0; success = its <c>success</c> when that is a bool, else false;</item>
/// <item>anything else (string, array, bool, null): score = 0, success = false;</item>
/// <item>a failed task (no result): score = 0, success = false.</item>
/// </list>
/// </summary>
public static class ScoreRule
{
    public static (double Score, bool Success) Read(JsonElement result)
    {
        switch (result.ValueKind)
        {
            case JsonValueKind.Number:
                return (result.GetDouble(), true);
            case JsonValueKind.Object:
                double? score = result.TryGetProperty("score", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetDouble() : null;
                bool? success = result.TryGetProperty("success", out var ok) && ok.ValueKind is JsonValueKind.True or JsonValueKind.False ? ok.GetBoolean() : null;
                return (score ?? 0, success ?? score is not null);
            default:
                return (0, false);
        }
    }
}

/// <summary>Messages of errors as a task result keeps them: the client's own message, one line per cause.</summary>
internal static class ErrorText
{
    public static string Of(Exception error) => error switch
    {
        HttpRequestException { InnerException: { } inner } => $"{error.Message} ({inner.Message})",
        _ => error.Message,
    };
}
