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
        var errors = new Dictionary<long, string>();
        var figures = new List<Results.TaskFigures>(results.Count);
        foreach (var r in results)
        {
            figures.Add(new Results.TaskFigures(r.TaskId, r.Score, r.Success, r.Duration.Ticks / (double)TimeSpan.TicksPerMillisecond, r.Attempts, r.ErrorKind, r.FromCache));
            if (!r.Completed)
            {
                errors.TryAdd(r.TaskId, r.Error ?? "");
            }
        }
        return Of(figures, errors);
    }

    /// <summary>
    /// The summary of results' figures (what the store's covering index holds, without values); each failure group's
    /// example error from <paramref name="errors"/> (by task id; empty when missing).
    /// </summary>
    public static EvaluationSummary Of(IReadOnlyList<Results.TaskFigures> results, IReadOnlyDictionary<long, string> errors)
    {
        var n = results.Count;
        if (n == 0)
        {
            return new EvaluationSummary();
        }
        double sum = 0;
        int completed = 0, fromCache = 0, successes = 0;
        var durations = new List<double>(n);
        var failures = new Dictionary<TaskErrorKind, (int Count, long Example)>();
        foreach (var r in results)
        {
            sum += r.Score;
            successes += r.Success ? 1 : 0;
            if (r.FromCache)
            {
                fromCache++;
            }
            else
            {
                durations.Add(r.DurationMs);
            }
            if (r.Completed)
            {
                completed++;
            }
            else
            {
                failures[r.ErrorKind] = failures.TryGetValue(r.ErrorKind, out var group)
                    ? (group.Count + 1, Math.Min(group.Example, r.TaskId))
                    : (1, r.TaskId);
            }
        }
        var mean = sum / n;
        var half = 0.0;
        if (n > 1)
        {
            var squares = 0.0;
            foreach (var r in results)
            {
                squares += (r.Score - mean) * (r.Score - mean);
            }
            half = StudentT975(n - 1) * Math.Sqrt(squares / (n - 1) / n);
        }
        durations.Sort();
        return new EvaluationSummary
        {
            Tasks = n,
            Completed = completed,
            Failed = n - completed,
            FromCache = fromCache,
            MeanScore = mean,
            MeanScoreLow = mean - half,
            MeanScoreHigh = mean + half,
            SuccessRate = successes / (double)n,
            P50Duration = Percentile(durations, 0.50),
            P95Duration = Percentile(durations, 0.95),
            Failures = [.. failures
                .Select(f => new FailureGroup(f.Key, f.Value.Count, f.Value.Example, errors.GetValueOrDefault(f.Value.Example, "")))
                .OrderByDescending(f => f.Count).ThenBy(f => f.Kind)],
        };
    }

    /// <summary>Nearest-rank percentile of sorted milliseconds, back to the tick the duration was written from.</summary>
    private static TimeSpan? Percentile(List<double> sortedMs, double p) =>
        sortedMs.Count == 0 ? null : TimeSpan.FromTicks((long)Math.Round(sortedMs[Math.Clamp((int)Math.Ceiling(p * sortedMs.Count) - 1, 0, sortedMs.Count - 1)] * TimeSpan.TicksPerMillisecond));

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
