namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>One kind of failure in a summary: how many tasks, and one of them as an example.</summary>
public sealed record FailureGroup(TaskErrorKind Kind, int Count, long ExampleTaskId, string ExampleError);

/// <summary>
/// What a run's results add up to. The mean counts every task (a failed one scores 0); its 95% confidence interval
/// is mean ± t(0.975, n-1) · s / √n (Student's t, the sample standard deviation s); durations are over the tasks
/// run, not those served from the cache.
/// </summary>
public sealed record EvaluationSummary
{
    public int Tasks { get; init; }
    public int Completed { get; init; }
    public int Failed { get; init; }
    public int FromCache { get; init; }
    public double MeanScore { get; init; }

    /// <summary>The 95% confidence interval of the mean score; both ends equal the mean for fewer than two tasks.</summary>
    public double MeanScoreLow { get; init; }
    public double MeanScoreHigh { get; init; }

    /// <summary>Share of tasks with success true.</summary>
    public double SuccessRate { get; init; }

    /// <summary>Median duration of the tasks run (null when every task came from the cache).</summary>
    public TimeSpan? P50Duration { get; init; }
    public TimeSpan? P95Duration { get; init; }

    /// <summary>Failures by kind, the most frequent first.</summary>
    public IReadOnlyList<FailureGroup> Failures { get; init; } = [];

    /// <summary>The summary of <paramref name="results"/> (one per task).</summary>
    public static EvaluationSummary Of(IReadOnlyCollection<TaskResult> results)
    {
        var n = results.Count;
        if (n == 0)
        {
            return new EvaluationSummary();
        }
        var mean = results.Average(r => r.Score);
        var half = 0.0;
        if (n > 1)
        {
            var variance = results.Sum(r => (r.Score - mean) * (r.Score - mean)) / (n - 1);
            half = StudentT975(n - 1) * Math.Sqrt(variance / n);
        }
        var durations = results.Where(r => !r.FromCache).Select(r => r.Duration).Order().ToList();
        return new EvaluationSummary
        {
            Tasks = n,
            Completed = results.Count(r => r.Completed),
            Failed = results.Count(r => !r.Completed),
            FromCache = results.Count(r => r.FromCache),
            MeanScore = mean,
            MeanScoreLow = mean - half,
            MeanScoreHigh = mean + half,
            SuccessRate = results.Count(r => r.Success) / (double)n,
            P50Duration = Percentile(durations, 0.50),
            P95Duration = Percentile(durations, 0.95),
            Failures = [.. results.Where(r => !r.Completed)
                .GroupBy(r => r.ErrorKind)
                .Select(g => (Group: g, First: g.MinBy(r => r.TaskId)!))
                .Select(x => new FailureGroup(x.Group.Key, x.Group.Count(), x.First.TaskId, x.First.Error ?? ""))
                .OrderByDescending(f => f.Count).ThenBy(f => f.Kind)],
        };
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static TimeSpan? Percentile(List<TimeSpan> sorted, double p) =>
        sorted.Count == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    /// <summary>
    /// The 0.975 quantile of Student's t with <paramref name="df"/> degrees of freedom: the table up to 30, the
    /// Cornish-Fisher expansion around the normal quantile beyond (within 1e-4 there).
    /// </summary>
    internal static double StudentT975(int df)
    {
        if (df < 1)
        {
            return double.NaN;
        }
        if (df <= TTable.Length)
        {
            return TTable[df - 1];
        }
        const double z = 1.959963984540054;
        double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z, n = df;
        return z + ((z3 + z) / 4 / n) + (((5 * z5) + (16 * z3) + (3 * z)) / 96 / (n * n)) + (((3 * z7) + (19 * z5) + (17 * z3) - (15 * z)) / 384 / (n * n * n));
    }

    private static readonly double[] TTable =
    [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
}
