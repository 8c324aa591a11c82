using System.Security.Cryptography;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Results;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>Plans runs (store, cache, resume); <see cref="EvaluationRun"/> executes them.</summary>
internal sealed class ConcurrentEvaluationRunner(IEnvironment environment, ResultStore? store, ILoggerFactory? loggerFactory) : IEvaluationRunner
{
    private readonly ILogger _logger = (ILogger?)loggerFactory?.CreateLogger<EvaluationRun>() ?? NullLogger.Instance;

    public async Task<IEvaluationRun> StartAsync(EvaluationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        request = request with
        {
            TaskTimeout = request.TaskTimeout ?? CallDeadlines.For(null, request.Kwargs, CallDeadlines.EvaluationDefault),
            Method = request.Episodes is null ? request.Method : EpisodeSettings.MethodName,
        };
        var tasks = request.DistinctTaskIds();
        // What is sent (the kwargs) and what identifies the run in the store and the cache (with the episode settings).
        var (_, kwargs) = CanonicalJson.Of(request.Kwargs);
        var (kwargsText, _) = CanonicalJson.Of(request.StoredKwargs());
        var id = NewRunId();
        var cached = new Dictionary<long, TaskResult>();
        if (store is not null)
        {
            cached = await Task.Run(() =>
            {
                store.CreateRun(new NewRun(id, request, kwargsText), tasks);
                return Cached(request, kwargsText, tasks);
            }, cancellationToken);
        }
        return new EvaluationRun(id, request with { TaskIds = tasks }, kwargs, environment, store, _logger,
            alreadyDone: 0, [.. tasks.Where(cached.ContainsKey).Select(t => cached[t])], [.. tasks.Where(t => !cached.ContainsKey(t))]);
    }

    public Task<IEvaluationRun> ResumeAsync(string runId, CancellationToken cancellationToken = default) => ResumeAsync(runId, null, cancellationToken);

    /// <summary>Resumes <paramref name="runId"/>; an episode run's stored settings are first given to <paramref name="episodeModel"/> (which may set the model's key, never stored).</summary>
    internal async Task<IEvaluationRun> ResumeAsync(string runId, Func<EpisodeSettings, EpisodeSettings>? episodeModel, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        if (store is null)
        {
            throw new InvalidOperationException("resuming a run needs the runner to have a results store");
        }
        var run = await store.GetRunAsync(runId, cancellationToken)
            ?? throw new ResultStoreException($"the results store {store.Path} has no run '{runId}'; list the runs it has (afs runs)");
        var (storedKwargs, episodes) = EvaluationRequest.FromStored(CanonicalJson.Parse(run.Kwargs));
        if (episodes is not null && episodeModel is not null)
        {
            episodes = episodeModel(episodes);
        }
        var request = new EvaluationRequest
        {
            Method = run.Method,
            TaskIds = [],
            Kwargs = storedKwargs,
            TaskIdParameter = run.TaskIdParameter,
            Concurrency = run.Concurrency,
            // Runs stored before every run had a deadline resume with the default one.
            TaskTimeout = run.TaskTimeout ?? CallDeadlines.For(null, storedKwargs, CallDeadlines.EvaluationDefault),
            Retries = run.Retries,
            RetryDelay = run.RetryDelay,
            UseCache = run.UseCache,
            ImageDigest = run.ImageDigest,
            Environment = run.Environment,
            Label = run.Label,
            Settings = run.Settings,
            Episodes = episodes,
            RecordTranscripts = run.RecordTranscripts,
        };
        if (episodes?.Problem() is { } problem)
        {
            // The key is not stored: without it in the environment (EpisodeSettings.ApiKeyVariable) nothing can be played.
            throw new EvaluationOptionsException($"run {runId} plays episodes and cannot resume: {problem}");
        }
        var (tasks, missing, cached) = await Task.Run(() =>
        {
            var all = store.RunTasks(runId);
            var missing = store.MissingTasks(runId);
            var cached = Cached(request, run.Kwargs, missing);
            store.ReopenRun(runId);
            return (all, missing, cached);
        }, cancellationToken);
        return new EvaluationRun(runId, request with { TaskIds = tasks }, CanonicalJson.Of(storedKwargs).Values, environment, store, _logger,
            alreadyDone: tasks.Count - missing.Count, [.. missing.Where(cached.ContainsKey).Select(t => cached[t])], [.. missing.Where(t => !cached.ContainsKey(t))]);
    }

    private Dictionary<long, TaskResult> Cached(EvaluationRequest request, string kwargs, IReadOnlyList<long> tasks) =>
        request.UseCache && request.ImageDigest is { } digest
            ? store!.FindCached(digest, request.Method, request.TaskIdParameter, kwargs, tasks)
            : [];

    /// <summary>Sortable by time, short enough to type: <c>20261125-143012-a1b2</c>.</summary>
    private static string NewRunId() =>
        $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{RandomNumberGenerator.GetHexString(4, lowercase: true)}";
}
