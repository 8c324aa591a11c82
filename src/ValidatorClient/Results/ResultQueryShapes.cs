using Affinetes.ValidatorClient.Evaluation;

namespace Affinetes.ValidatorClient.Results;

/// <summary>Which runs to list: words to find in a run's id, label, environment, digest or kwargs, and exact filters; null: any.</summary>
public sealed record RunFilter
{
    public string? Search { get; init; }
    public string? Environment { get; init; }
    /// <summary>The <c>model</c> of the run's kwargs.</summary>
    public string? Model { get; init; }
    public RunStatus? Status { get; init; }
    /// <summary>Runs created on or after this moment.</summary>
    public DateTimeOffset? From { get; init; }
    /// <summary>Runs created before this moment.</summary>
    public DateTimeOffset? Before { get; init; }
    /// <summary>These runs only.</summary>
    public IReadOnlyList<string>? Ids { get; init; }
    public int Limit { get; init; } = 100;
    public int Offset { get; init; }
}

/// <summary>The figures of one result, as the covering index holds them (no value, no error text).</summary>
public readonly record struct TaskFigures(long TaskId, double Score, bool Success, double DurationMs, int Attempts, TaskErrorKind ErrorKind, bool FromCache)
{
    public bool Completed => ErrorKind == TaskErrorKind.None;
}

/// <summary>One row of a run's task table: the figures and the start of the error.</summary>
public sealed record TaskRow(TaskFigures Figures, string? Error);

/// <summary>How a run's task table is ordered and cut: a column of <see cref="Columns"/>, failed tasks only or all, one page.</summary>
public sealed record TaskOrder(string Sort, bool Descending, bool FailedOnly, int Offset, int Limit)
{
    public static readonly IReadOnlyList<string> Columns = ["task", "score", "success", "duration", "attempts", "error"];
}

/// <summary>A run's progress as its process last wrote it (<see cref="RunProgressWriter"/>).</summary>
public sealed record RunProgress(DateTimeOffset StartedAt, DateTimeOffset UpdatedAt, int DoneBefore, int FromCache, int Completed, int Failed, int InFlight, int Retries)
{
    /// <summary>Tasks run per second in the process's start so far.</summary>
    public double Rate => UpdatedAt > StartedAt ? (Completed + Failed) / (UpdatedAt - StartedAt).TotalSeconds : 0;
}

/// <summary>One task in two runs (either side missing when that run has no result for it).</summary>
public sealed record TaskComparison(long TaskId, TaskFigures? A, TaskFigures? B)
{
    public double? Difference => A is { } a && B is { } b ? b.Score - a.Score : null;
}

/// <summary>How two runs' tasks agree: counts over every task, and one page of them, the disagreements first.</summary>
public sealed record ComparisonPage(int Tasks, int Both, int SuccessDiffers, int ScoreDiffers, int OnlyA, int OnlyB, double? MeanDifference, IReadOnlyList<TaskComparison> Rows);
