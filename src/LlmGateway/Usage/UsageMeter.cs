using Affinetes.Protocol;

namespace Affinetes.LlmGateway.Usage;

/// <summary>Token counts of one answer, as the upstream reported them in <c>usage</c>.</summary>
internal readonly record struct TokenCounts(long Prompt, long Completion, long Total);

/// <summary>
/// One environment's usage: requests, errors, tokens and latency in total and per task, and the requests the gateway
/// refused by reason. Cheap to record (one short lock); <see cref="Snapshot"/> gives the admin API's figures.
/// </summary>
internal sealed class UsageMeter
{
    /// <summary>Tasks tracked per environment; later task ids are counted under <see cref="OtherTasks"/>.</summary>
    private const int MaxTasks = 20_000;
    private const string OtherTasks = "(other)";

    private readonly Lock _gate = new();
    private readonly Figures _total = new(4096);
    private readonly Dictionary<string, Figures> _tasks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _rejected = new(StringComparer.Ordinal);
    private long _totalTokens;
    private long _tunnels;

    /// <summary>Tokens used so far (prompt + completion), read without the lock for the budget check.</summary>
    public long TotalTokens => Interlocked.Read(ref _totalTokens);

    /// <summary>
    /// Counts one forwarded request: failed when the upstream answered 4xx/5xx or broke off; a successful one that
    /// should have carried usage (<paramref name="expectsUsage"/>) and did not is counted as such.
    /// </summary>
    public void Record(string? task, bool failed, TokenCounts? tokens, bool expectsUsage, TimeSpan latency)
    {
        lock (_gate)
        {
            _total.Add(failed, tokens, expectsUsage, latency);
            if (task is not null)
            {
                if (!_tasks.TryGetValue(task, out var figures))
                {
                    figures = _tasks.Count < MaxTasks ? new Figures(32) : _tasks.GetValueOrDefault(OtherTasks) ?? new Figures(32);
                    _tasks[_tasks.Count < MaxTasks ? task : OtherTasks] = figures;
                }
                figures.Add(failed, tokens, expectsUsage, latency);
            }
        }
        if (tokens is { } counted)
        {
            Interlocked.Add(ref _totalTokens, counted.Total);
        }
    }

    /// <summary>Counts a request the gateway answered itself with error <paramref name="code"/>.</summary>
    public void Reject(string code)
    {
        lock (_gate)
        {
            _rejected[code] = _rejected.GetValueOrDefault(code) + 1;
        }
    }

    /// <summary>Counts one CONNECT tunnel opened.</summary>
    public void Tunnel() => Interlocked.Increment(ref _tunnels);

    /// <summary>The usage of a task that made no request the upstream saw.</summary>
    public static readonly TaskUsage Nothing = new() { LatencyMs = new LatencySummary() };

    /// <summary>The named tasks' figures since they were last collected; the meter forgets them (tasks with none are left out).</summary>
    public Dictionary<string, TaskUsage> Collect(IEnumerable<string> tasks)
    {
        var collected = new Dictionary<string, TaskUsage>(StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var task in tasks)
            {
                if (_tasks.Remove(task, out var figures))
                {
                    collected[task] = figures.ToTask();
                }
            }
        }
        return collected;
    }

    /// <summary>The figures as the admin API shows them.</summary>
    public TenantUsage Snapshot(string name, long? budget)
    {
        lock (_gate)
        {
            var total = _total.ToTask();
            return new TenantUsage
            {
                Name = name,
                Requests = total.Requests,
                Errors = total.Errors,
                PromptTokens = total.PromptTokens,
                CompletionTokens = total.CompletionTokens,
                TotalTokens = total.TotalTokens,
                ResponsesWithoutUsage = total.ResponsesWithoutUsage,
                LatencyMs = total.LatencyMs,
                Rejected = new SortedDictionary<string, long>(_rejected, StringComparer.Ordinal),
                BudgetTokens = budget,
                BudgetRemaining = budget is { } b ? Math.Max(0, b - total.TotalTokens) : null,
                Tunnels = Interlocked.Read(ref _tunnels),
                Tasks = new SortedDictionary<string, TaskUsage>(_tasks.ToDictionary(t => t.Key, t => t.Value.ToTask()), StringComparer.Ordinal),
            };
        }
    }

    /// <summary>Counters of one environment or task; the caller holds the meter's lock.</summary>
    private sealed class Figures(int latencyWindow)
    {
        private readonly double[] _recent = new double[latencyWindow];
        private long _requests, _errors, _prompt, _completion, _total, _withoutUsage;
        private double _latencySum, _latencyMax;

        public void Add(bool failed, TokenCounts? tokens, bool expectsUsage, TimeSpan latency)
        {
            var ms = latency.TotalMilliseconds;
            _recent[_requests % _recent.Length] = ms;
            _requests++;
            _latencySum += ms;
            _latencyMax = Math.Max(_latencyMax, ms);
            if (failed)
            {
                _errors++;
            }
            if (tokens is { } t)
            {
                _prompt += t.Prompt;
                _completion += t.Completion;
                _total += t.Total;
            }
            else if (!failed && expectsUsage)
            {
                _withoutUsage++;
            }
        }

        public TaskUsage ToTask()
        {
            var recent = _recent.AsSpan(0, (int)Math.Min(_requests, _recent.Length)).ToArray();
            Array.Sort(recent);
            return new TaskUsage
            {
                Requests = _requests,
                Errors = _errors,
                PromptTokens = _prompt,
                CompletionTokens = _completion,
                TotalTokens = _total,
                ResponsesWithoutUsage = _withoutUsage,
                LatencyMs = new LatencySummary
                {
                    Count = _requests,
                    Mean = _requests == 0 ? 0 : Math.Round(_latencySum / _requests, 3),
                    P50 = Percentile(recent, 0.50),
                    P95 = Percentile(recent, 0.95),
                    Max = Math.Round(_latencyMax, 3),
                },
            };
        }

        private static double Percentile(double[] sorted, double p) =>
            sorted.Length == 0 ? 0 : Math.Round(sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * p))], 3);
    }
}
