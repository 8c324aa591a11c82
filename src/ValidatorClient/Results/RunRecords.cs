using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;

namespace Affinetes.ValidatorClient.Results;


/// <summary>One task's use of the LLM through the gateway, as stored with its run.</summary>
/// <param name="Requests">Requests forwarded to the upstream.</param>
/// <param name="Errors">Of those, the ones the upstream failed.</param>
/// <param name="PromptTokens">Prompt tokens, as the upstream reported them.</param>
/// <param name="CompletionTokens">Completion tokens, as the upstream reported them.</param>
/// <param name="TotalTokens">Total tokens, as the upstream reported them.</param>
/// <param name="LatencyMsTotal">Sum of the requests' latencies through the gateway, in milliseconds.</param>
public sealed record LlmTaskUsage(long Requests, long Errors, long PromptTokens, long CompletionTokens, long TotalTokens, double LatencyMsTotal);

/// <summary>A run's state in the store.</summary>
public enum RunStatus
{
    /// <summary>Started and not finished: running now, or its process was killed (resume it).</summary>
    Running,

    /// <summary>Every task has a result.</summary>
    Completed,

    /// <summary>Stopped before every task had a result (cancelled); resume runs the rest.</summary>
    Interrupted,
}

/// <summary>One stored run: what was asked, and how far it got.</summary>
public sealed record RunInfo
{
    public required string Id { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public required RunStatus Status { get; init; }
    public string? Environment { get; init; }
    public string? ImageDigest { get; init; }
    public required string Method { get; init; }

    /// <summary>The kwargs every task got, as canonical JSON (keys sorted).</summary>
    public required string Kwargs { get; init; }

    public required string TaskIdParameter { get; init; }
    public int Concurrency { get; init; }
    public TimeSpan? TaskTimeout { get; init; }
    public int Retries { get; init; }
    public TimeSpan RetryDelay { get; init; }
    public bool UseCache { get; init; }
    public string? Label { get; init; }

    /// <summary>Whether the run stores its tasks' transcripts (<see cref="EvaluationRequest.RecordTranscripts"/>).</summary>
    public bool RecordTranscripts { get; init; } = true;

    /// <summary>What the caller kept with the run to resume it as it was started (<see cref="EvaluationRequest.Settings"/>).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>Tasks in the run.</summary>
    public int TaskCount { get; init; }

    /// <summary>Tasks with a result (completed, failed or served from the cache).</summary>
    public int ResultCount { get; init; }

    /// <summary>Results whose call failed.</summary>
    public int FailedCount { get; init; }

    /// <summary>Results served from the cache.</summary>
    public int CacheHits { get; init; }

    /// <summary>Mean score over the results so far (failed ones count 0); null before the first result.</summary>
    public double? MeanScore { get; init; }

    /// <summary>The low end of the mean score's 95% confidence interval, as <see cref="EvaluationSummary"/> computes it; null before the first result.</summary>
    public double? MeanScoreLow { get; init; }

    /// <summary>The high end of the mean score's 95% confidence interval; null before the first result.</summary>
    public double? MeanScoreHigh { get; init; }

    /// <summary>Share of results with success true; null before the first result.</summary>
    public double? SuccessRate { get; init; }
}


/// <summary>The results store cannot be used: not a store, a newer schema, a run that does not exist.</summary>
public sealed class ResultStoreException(string message, Exception? inner = null) : AffinetesException(message, inner);
