using System.Text.Json;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Results;
using Polly;

namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>
/// What one attempt of a task does: the seam between the runner (workers, retries, deadline, store, cache, resume)
/// and the work. <see cref="CallWork"/> calls the method once; <see cref="EpisodeWork"/> plays an episode.
/// </summary>
internal interface ITaskWork
{
    /// <summary>
    /// One attempt of <paramref name="task"/>: its result, or an exception whose kind the result keeps
    /// (<see cref="TaskErrorKinds.Of"/>). A failed attempt may leave what it got on the task (<see cref="TaskCall.FailedValue"/>).
    /// </summary>
    ValueTask<JsonElement> AttemptAsync(TaskCall task, CancellationToken cancellationToken);
}

/// <summary>The default work: one call of the method with the task's kwargs, bounded by the task's deadline.</summary>
internal sealed class CallWork(IEnvironment environment, string method) : ITaskWork
{
    public ValueTask<JsonElement> AttemptAsync(TaskCall task, CancellationToken cancellationToken) =>
        new(environment.CallAsync(method, null, task.Kwargs, task.Timeout, cancellationToken));
}

/// <summary>The attempts of one task: counts them, keeps each failed one's error, what the last failed one got, and what the model used.</summary>
internal sealed class TaskCall(ITaskWork work, long taskId, Dictionary<string, object?> kwargs, TimeSpan? timeout)
{
    private List<AttemptError>? _errors;

    public long TaskId => taskId;

    /// <summary>The kwargs of the task (its id among them).</summary>
    public Dictionary<string, object?> Kwargs => kwargs;

    /// <summary>The deadline of each attempt.</summary>
    public TimeSpan? Timeout => timeout;

    public int Attempts { get; private set; }

    public IReadOnlyList<AttemptError> Errors => _errors ?? (IReadOnlyList<AttemptError>)[];

    /// <summary>What the last failed attempt got before it failed (an episode's steps so far), kept with the failed result.</summary>
    public JsonElement? FailedValue { get; set; }

    /// <summary>What the work's own model calls used over every attempt (episode mode); null when it made none.</summary>
    public LlmTaskUsage? Usage { get; private set; }

    public void AddUsage(long requests, long errors, long promptTokens, long completionTokens, double latencyMs)
    {
        var used = Usage ?? new LlmTaskUsage(0, 0, 0, 0, 0, 0);
        Usage = new LlmTaskUsage(used.Requests + requests, used.Errors + errors, used.PromptTokens + promptTokens,
            used.CompletionTokens + completionTokens, used.TotalTokens + promptTokens + completionTokens, used.LatencyMsTotal + latencyMs);
    }

    public async ValueTask<Outcome<JsonElement>> AttemptAsync(CancellationToken token)
    {
        Attempts++;
        try
        {
            return Outcome.FromResult(await work.AttemptAsync(this, token));
        }
        catch (Exception e)
        {
            if (e is not OperationCanceledException || !token.IsCancellationRequested)
            {
                (_errors ??= []).Add(new AttemptError(Attempts, TaskErrorKinds.Of(e), ErrorText.Of(e)));
            }
            return Outcome.FromException<JsonElement>(e);
        }
    }
}
