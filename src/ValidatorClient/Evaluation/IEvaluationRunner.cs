using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Results;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>Runs evaluations against one environment, keeping results in a store when it has one.</summary>
public interface IEvaluationRunner
{
    /// <summary>
    /// Starts a new run: validates <paramref name="request"/> (<see cref="EvaluationOptionsException"/>), records the
    /// run in the store and looks its tasks up in the cache. Nothing is called until
    /// <see cref="IEvaluationRun.ResultsAsync"/> is read.
    /// </summary>
    Task<IEvaluationRun> StartAsync(EvaluationRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Resumes a stored run (interrupted, or whose process was killed): only its tasks without a result run, with
    /// the run's own method, kwargs and settings (in episode mode its <see cref="EpisodeSettings"/>, the model's key read
    /// again from <see cref="EpisodeSettings.ApiKeyVariable"/>). Throws <see cref="ResultStoreException"/> when the
    /// store has no such run, <see cref="InvalidOperationException"/> when the runner has no store, and
    /// <see cref="EvaluationOptionsException"/> when an episode run's key is not in its variable.
    /// </summary>
    Task<IEvaluationRun> ResumeAsync(string runId, CancellationToken cancellationToken = default);
}

/// <summary>One run: its plan, its live progress and its results as they finish.</summary>
public interface IEvaluationRun
{
    /// <summary>The run's id in the store (e.g. <c>20261125-143012-a1b2</c>), for resuming and showing it.</summary>
    string Id { get; }

    /// <summary>What the run does (on a resume, as it was stored).</summary>
    EvaluationRequest Request { get; }

    /// <summary>Tasks in the run.</summary>
    int TaskCount { get; }

    /// <summary>Tasks that already had a result in this run before this start (a resume).</summary>
    int AlreadyDone { get; }

    /// <summary>Tasks served from the cache.</summary>
    int CacheHits { get; }

    /// <summary>Tasks this start calls the environment for.</summary>
    int ToRun { get; }

    /// <summary>A snapshot of the counters, safe to read from any thread at any time.</summary>
    EvaluationProgress Progress { get; }

    /// <summary>
    /// Runs the tasks, <see cref="EvaluationRequest.Concurrency"/> at a time, and yields each result as it is
    /// stored: results served from the cache first, then each task as it finishes. A failed task is a result, never
    /// an exception. Cancelling stops new tasks and abandons those in flight (they stay missing, so a resume runs
    /// them); results already finished are stored and yielded, then <see cref="OperationCanceledException"/> is
    /// thrown. Stopping the enumeration early does the same without the exception (results stored meanwhile are not
    /// yielded then, but they are in the store). Read once.
    /// </summary>
    IAsyncEnumerable<TaskResult> ResultsAsync(CancellationToken cancellationToken = default);
}

/// <summary>The counters of a run at one moment.</summary>
/// <param name="Total">Tasks in the run.</param>
/// <param name="AlreadyDone">Results the run had before this start.</param>
/// <param name="FromCache">Results served from the cache.</param>
/// <param name="Completed">Tasks run now whose call returned a result.</param>
/// <param name="Failed">Tasks run now whose call failed (after retries).</param>
/// <param name="InFlight">Tasks being called now.</param>
/// <param name="Retries">Attempts retried so far.</param>
/// <param name="Elapsed">Since the results started to be read.</param>
public readonly record struct EvaluationProgress(int Total, int AlreadyDone, int FromCache, int Completed, int Failed, int InFlight, int Retries, TimeSpan Elapsed)
{
    /// <summary>Tasks with a result.</summary>
    public int Done => AlreadyDone + FromCache + Completed + Failed;

    /// <summary>Tasks run per second in this start.</summary>
    public double Rate => Elapsed > TimeSpan.Zero ? (Completed + Failed) / Elapsed.TotalSeconds : 0;

    /// <summary>Time left at the current rate; null before the first task finished.</summary>
    public TimeSpan? Eta => Rate > 0 ? TimeSpan.FromSeconds((Total - Done) / Rate) : null;
}

/// <summary>Creates evaluation runners.</summary>
public static class EvaluationRunner
{
    /// <summary>
    /// A runner calling <paramref name="environment"/>. With a <paramref name="store"/> (from
    /// <see cref="ResultStore.OpenAsync"/>) every result is stored, cached results are served and runs can be
    /// resumed; without one, results are only yielded.
    /// </summary>
    public static IEvaluationRunner Create(IEnvironment environment, ResultStore? store = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return new ConcurrentEvaluationRunner(environment, store, loggerFactory);
    }
}
