using System.Globalization;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Results;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>
/// What a run's tasks used through the LLM gateway, collected from it task by task: records left from earlier runs
/// on the same environment are dropped at the start, each batch of results takes its tasks' usage and transcripts
/// (unless <paramref name="keepTranscripts"/> is false) into the same transaction (a killed run loses none of what it
/// stored), and at the end whatever came in late is added.
/// </summary>
internal sealed class LlmUsageCollector(IEnvironment environment, string runId, bool keepTranscripts, ILogger logger)
{
    /// <summary>Task ids per request to the gateway.</summary>
    private const int Chunk = 4096;

    /// <summary>How long the writer waits for the gateway before storing a batch without its usage (collected at the end then).</summary>
    private static readonly TimeSpan BatchWait = TimeSpan.FromSeconds(5);

    private int _warned;

    /// <summary>Forgets what the gateway counted for <paramref name="tasks"/> before this run.</summary>
    public async Task ForgetAsync(IReadOnlyList<long> tasks) => await CollectAsync(tasks, CancellationToken.None);

    /// <summary>The results with their usage, for the writer's thread (it waits at most <see cref="BatchWait"/>).</summary>
    public void Attach(List<TaskResult> batch)
    {
        var ran = batch.Where(r => !r.FromCache).Select(r => r.TaskId).ToList();
        if (ran.Count == 0)
        {
            return;
        }
        using var wait = new CancellationTokenSource(BatchWait);
        var usage = CollectAsync(ran, wait.Token).GetAwaiter().GetResult();
        if (usage.Count == 0)
        {
            return;
        }
        for (var i = 0; i < batch.Count; i++)
        {
            if (!batch[i].FromCache && usage.TryGetValue(batch[i].TaskId, out var used))
            {
                batch[i] = batch[i] with { LlmUsage = used.Usage, Transcript = used.Transcript };
            }
        }
    }

    /// <summary>Usage and transcripts of <paramref name="tasks"/> the gateway still has (calls that ended after their task's result was stored).</summary>
    public Task<Dictionary<long, (LlmTaskUsage Usage, LlmTranscript? Transcript)>> CollectLateAsync(IReadOnlyList<long> tasks) => CollectAsync(tasks, CancellationToken.None);

    private async Task<Dictionary<long, (LlmTaskUsage Usage, LlmTranscript? Transcript)>> CollectAsync(IReadOnlyList<long> tasks, CancellationToken cancellationToken)
    {
        var usage = new Dictionary<long, (LlmTaskUsage, LlmTranscript?)>();
        try
        {
            for (var start = 0; start < tasks.Count; start += Chunk)
            {
                var ids = tasks.Skip(start).Take(Chunk).Select(t => t.ToString(CultureInfo.InvariantCulture)).ToList();
                foreach (var (name, record) in await environment.CollectLlmTasksAsync(ids, cancellationToken))
                {
                    if (long.TryParse(name, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var taskId))
                    {
                        usage[taskId] = (Of(record.Usage), keepTranscripts ? LlmTranscript.Of(record) : null);
                    }
                }
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException or System.Text.Json.JsonException)
        {
            if (Interlocked.Exchange(ref _warned, 1) == 0)
            {
                EvaluationRun.Log.UsageNotRecorded(logger, runId, e.Message);
            }
        }
        return usage;
    }

    private static LlmTaskUsage Of(TaskUsage used) =>
        new(used.Requests, used.Errors, used.PromptTokens, used.CompletionTokens, used.TotalTokens, used.LatencyMs.Mean * used.LatencyMs.Count);
}
