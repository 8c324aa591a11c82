using System.Diagnostics;
using System.Text.Json;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Episodes;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>
/// A task in episode mode (<see cref="EpisodeSettings"/>): one episode played by the model. The task's deadline bounds
/// the whole episode (reset, every model request and step); whatever ends it, the episode is stopped. The value is
/// <see cref="EpisodeRecord"/>'s; a failed episode leaves it on the task with the steps it got.
/// </summary>
internal sealed partial class EpisodeWork(IOpenEnvClient openEnv, EpisodeSettings settings, ILogger logger) : ITaskWork
{
    private readonly EpisodePolicy _policy = new(settings);

    public async ValueTask<JsonElement> AttemptAsync(TaskCall task, CancellationToken cancellationToken)
    {
        var bounded = task.Timeout is { } limit && limit != Timeout.InfiniteTimeSpan;
        using var deadline = bounded ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : null;
        deadline?.CancelAfter(task.Timeout!.Value);
        var token = deadline?.Token ?? cancellationToken;
        var started = Stopwatch.GetTimestamp();
        TimeSpan Left()
        {
            if (!bounded)
            {
                return Timeout.InfiniteTimeSpan;
            }
            var left = task.Timeout!.Value - Stopwatch.GetElapsedTime(started);
            return left > TimeSpan.Zero ? left : throw new DeadlineExceededException("the episode", task.Timeout.Value, serverSide: false);
        }

        var record = new EpisodeRecord();
        IEpisode? episode = null;
        try
        {
            var (seed, kwargs) = ResetArguments(task);
            episode = await openEnv.ResetAsync(task.TaskId, seed, kwargs, Left(), token);
            record.Opened(episode);
            var conversation = _policy.Start(episode.Reset.ObservationText);
            string stopReason;
            while (true)
            {
                if (record.Steps >= settings.MaxSteps)
                {
                    stopReason = "max_steps";
                    break;
                }
                var reply = await ActAsync(task, conversation, token);
                var step = await episode.StepAsync(reply.Text, null, Left(), token);
                record.Stepped(reply, step);
                if (step.Done || step.Truncated)
                {
                    stopReason = step.Done ? "done" : "truncated";
                    break;
                }
                EpisodePolicy.Observe(conversation, step.ObservationText);
            }
            Log.Played(logger, task.TaskId, episode.EpisodeId, record.Steps, record.Reward, stopReason);
            return record.ToValue(stopReason, failed: false);
        }
        catch (Exception e) when (bounded && !cancellationToken.IsCancellationRequested
            && (e is DeadlineExceededException || (e is OperationCanceledException && deadline!.IsCancellationRequested)))
        {
            // The step's own deadline (what was left of the episode's) or the episode's: either way the episode's time is up.
            task.FailedValue = record.ToValue(TaskErrorKinds.Name(TaskErrorKind.Deadline), failed: true);
            throw new DeadlineExceededException($"episode of task {task.TaskId} ({record.Steps} steps played)", task.Timeout!.Value, serverSide: false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            task.FailedValue = record.ToValue(TaskErrorKinds.Name(TaskErrorKinds.Of(e)), failed: true);
            throw;
        }
        finally
        {
            if (episode is not null)
            {
                await episode.DisposeAsync();
            }
        }
    }

    /// <summary>The model's next action, its use counted on the task whether it is usable or not.</summary>
    private async Task<PolicyReply> ActAsync(TaskCall task, List<OpenAI.Chat.ChatMessage> conversation, CancellationToken token)
    {
        try
        {
            var reply = await _policy.ActAsync(conversation, token);
            task.AddUsage(1, 0, reply.PromptTokens, reply.CompletionTokens, reply.LatencyMs);
            return reply;
        }
        catch (ModelReplyException e)
        {
            task.AddUsage(1, e.Reply is null ? 1 : 0, e.Reply?.PromptTokens ?? 0, e.Reply?.CompletionTokens ?? 0, e.LatencyMs);
            throw;
        }
    }

    /// <summary>The seed (the task id unless the kwargs give one) and the other kwargs of <c>reset</c>.</summary>
    private static (long Seed, Dictionary<string, object?> Kwargs) ResetArguments(TaskCall task)
    {
        var kwargs = new Dictionary<string, object?>(task.Kwargs.Count, StringComparer.Ordinal);
        long seed = task.TaskId;
        foreach (var (name, value) in task.Kwargs)
        {
            switch (name)
            {
                case "task_id":
                    break;
                case "seed":
                    seed = EpisodeSettings.Seed(value) ?? seed;
                    break;
                default:
                    kwargs[name] = value;
                    break;
            }
        }
        return (seed, kwargs);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7010, Level = LogLevel.Debug,
            Message = "task {TaskId}: episode {EpisodeId} played {Steps} steps, reward {Reward}, stopped by {StopReason}")]
        public static partial void Played(ILogger logger, long taskId, string episodeId, int steps, double reward, string stopReason);
    }
}
