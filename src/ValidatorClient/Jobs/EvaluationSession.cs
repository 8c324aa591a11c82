using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.ValidatorClient.Jobs;

/// <summary>
/// One evaluation started by <see cref="EvaluationService"/>: its run (read <see cref="IEvaluationRun.ResultsAsync"/>
/// once; its <see cref="IEvaluationRun.Progress"/> any time), the environment it runs on, and what it was started
/// with. Disposing releases everything it started (containers or deployment, the local model, the run's lock),
/// whether the run finished, failed or was cancelled; results stored so far stay.
/// </summary>
public sealed class EvaluationSession : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly ResultStore _store;
    private int _disposed;

    internal EvaluationSession(ResultStore store) => _store = store;

    /// <summary>The run: its id (for resuming and showing it), its plan, progress and results.</summary>
    public IEvaluationRun Run { get; internal set; } = null!;

    /// <summary>The environment the tasks run on; null when every task came from the cache and none was started.</summary>
    public IEnvironment? Environment { get; internal set; }

    /// <summary>The environment's options as started (with the model side added).</summary>
    public EnvironmentOptions Options { get; internal set; } = null!;

    /// <summary>Where the model calls go.</summary>
    public ModelEndpoint Model { get; internal set; } = null!;

    /// <summary>The method's descriptor; null when the environment serves no method table.</summary>
    public Protocol.MethodDescriptor? Method { get; internal set; }

    /// <summary>How the run is labelled (the model it used), when it names one.</summary>
    public string? Label => Run.Request.Label;

    /// <summary>True when this start continues a stored run.</summary>
    public bool Resumed { get; internal set; }

    /// <summary>The store the run's results go to.</summary>
    public string StorePath => _store.Path;

    internal void Own(IAsyncDisposable resource) => _owned.Add(resource);

    internal void Own(IDisposable resource) => _owned.Add(new Disposing(resource));

    /// <summary>
    /// The run as stored now, its results and their summary, and what its tasks used through the LLM gateway:
    /// read once the results have been read (or the run was cancelled).
    /// </summary>
    public async Task<EvaluationReport> ReportAsync(CancellationToken cancellationToken = default)
    {
        var info = await _store.GetRunAsync(Run.Id, cancellationToken);
        var results = await _store.GetResultsAsync(Run.Id, cancellationToken);
        var usage = (await _store.GetLlmUsageAsync(Run.Id, cancellationToken)).Values.ToList();
        return new EvaluationReport(info, results, EvaluationSummary.Of([.. results]), usage.Count == 0 ? null : new LlmUsageTotals(
            usage.Count, usage.Sum(u => u.Requests), usage.Sum(u => u.Errors), usage.Sum(u => u.PromptTokens), usage.Sum(u => u.CompletionTokens), usage.Sum(u => u.TotalTokens)));
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        // The last started goes first: the environment, then the model it used, then the run's lock.
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }

    private sealed class Disposing(IDisposable resource) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            resource.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>A run after its results were read: as stored, its results, their summary and its LLM usage.</summary>
/// <param name="Info">The run as stored (null only if it was removed meanwhile).</param>
/// <param name="Results">Every result the run has, by task id.</param>
/// <param name="Summary">Mean score with its interval, success rate, durations, failures by kind.</param>
/// <param name="LlmUsage">What its tasks used through the LLM gateway; null when nothing was counted.</param>
public sealed record EvaluationReport(RunInfo? Info, IReadOnlyList<TaskResult> Results, EvaluationSummary Summary, LlmUsageTotals? LlmUsage);

/// <summary>A run's use of the LLM through the gateway, summed over its tasks.</summary>
public sealed record LlmUsageTotals(int Tasks, long Requests, long Errors, long PromptTokens, long CompletionTokens, long TotalTokens);
