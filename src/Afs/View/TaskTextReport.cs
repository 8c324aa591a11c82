using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Affinetes.Afs.Cli;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.View;

/// <summary>
/// One task of a stored run as <c>afs show RUN --task N</c> prints it: its outcome, failed attempts, usage, the
/// conversation with the model (system, user and assistant turns, each exchange with its figures) or the episode's
/// steps, and the result; or all of it as one JSON document.
/// </summary>
internal static class TaskTextReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Write(AfsConsole console, RunInfo run, TaskResult r)
    {
        var outcome = r.Completed ? "completed" : $"failed ({TaskErrorKinds.Name(r.ErrorKind)})";
        console.Line(string.Create(Inv, $"task {r.TaskId} of run {run.Id}: {outcome}, score {r.Score:0.####}, success {(r.Success ? "yes" : "no")}, " +
            $"{r.Attempts} attempt(s), {r.Duration.TotalMilliseconds:0} ms{(r.FromCache ? ", served from the cache" : "")}, started {r.StartedAt:yyyy-MM-dd HH:mm:ss}Z"));
        if (!r.Completed)
        {
            console.Line("error: " + (r.Error ?? "(no message)"));
        }
        foreach (var attempt in r.AttemptErrors)
        {
            console.Line(string.Create(Inv, $"attempt {attempt.Attempt} failed: {TaskErrorKinds.Name(attempt.Kind)}: {attempt.Message}"));
        }
        if (r.LlmUsage is { } used)
        {
            console.Line(string.Create(Inv, $"LLM: {used.Requests} request(s), {used.Errors} failed, {used.PromptTokens}+{used.CompletionTokens} tokens, {used.LatencyMsTotal:0} ms in all"));
        }
        if (r.Transcript is { } transcript)
        {
            if (r.FromCache)
            {
                console.Line("transcript: that of the result this one was served from");
            }
            WriteConversation(console, transcript);
        }
        else if (run.RecordTranscripts)
        {
            console.Line("transcript: none (the task made no model call through afs's LLM gateway)");
        }
        else
        {
            console.Line("transcript: not recorded (the run was made with transcripts off)");
        }
        if (Trajectory.Of(r.Value) is { } episode)
        {
            WriteEpisode(console, episode);
        }
        if (r.Value is { } value)
        {
            console.Line();
            console.Line("result:");
            console.Line(JsonSerializer.Serialize(value, AfsConsole.PrettyJsonOptions));
        }
    }

    private static void WriteConversation(AfsConsole console, LlmTranscript transcript)
    {
        foreach (var turn in Conversation.Of(transcript))
        {
            var e = turn.Exchange;
            console.Line();
            console.Line(string.Create(Inv, $"── exchange {turn.Number}: {e.Endpoint} · {Conversation.Figures(e)}{(turn.Resent > 0 ? $" · {turn.Resent} earlier message(s) resent" : "")}"));
            foreach (var message in turn.Added)
            {
                Block(console, message.Role + (message.Name is { } name ? $" ({name})" : ""), message.Content, message.Truncated);
                if (message.ToolCalls is { } calls)
                {
                    Block(console, message.Role + " tool calls", calls, false);
                }
            }
            if (e.Reasoning is { } reasoning)
            {
                Block(console, "reasoning", reasoning, e.ReplyTruncated);
            }
            if (e.Reply is not null || e.ToolCalls is null && e.Error is null)
            {
                Block(console, "assistant", e.Reply ?? "(no text)", e.ReplyTruncated);
            }
            if (e.ToolCalls is { } toolCalls)
            {
                Block(console, "assistant tool calls", toolCalls, e.ReplyTruncated);
            }
            if (e.Error is { } error)
            {
                Block(console, "error", error, false);
            }
        }
        if (transcript.ExchangesDropped > 0)
        {
            console.Line(string.Create(Inv, $"({transcript.ExchangesDropped} further exchange(s) were not kept: past the gateway's limits)"));
        }
    }

    private static void WriteEpisode(AfsConsole console, Trajectory.Episode episode)
    {
        console.Line();
        console.Line(string.Create(Inv, $"episode: {episode.Steps.Count} step(s){(episode.StopReason is { } reason ? ", stopped: " + reason : "")}"));
        if (episode.FirstObservation is { } first)
        {
            Block(console, "observation (reset)", Trajectory.Text(first), false);
        }
        foreach (var step in episode.Steps)
        {
            var model = (step.LatencyMs is { } ms ? string.Create(Inv, $", model {ms:0} ms") : "") + (step.PromptTokens is { } p ? string.Create(Inv, $", {p}+{step.CompletionTokens ?? 0} tokens") : "");
            var figures = string.Create(Inv, $"step {step.Number}: reward {step.Reward?.ToString("0.####", Inv) ?? "-"}{(step.Done ? ", done" : "")}{(step.Truncated ? ", truncated" : "")}{model}");
            console.Line("── " + figures);
            if (step.Action is { } action)
            {
                Block(console, "action", Trajectory.Text(action), false);
            }
            if (step.Observation is { } observation)
            {
                Block(console, "observation", Trajectory.Text(observation), false);
            }
        }
    }

    private static void Block(AfsConsole console, string who, string? text, bool truncated)
    {
        console.Line($"[{who}]{(truncated ? " (cut: past the gateway's limits)" : "")}");
        foreach (var line in (text ?? "").Split('\n'))
        {
            console.Line("  " + line.TrimEnd('\r'));
        }
    }

    /// <summary>The task as JSON: the fields of its JSON line, its failed attempts, usage and transcript.</summary>
    public static JsonNode Json(TaskResult r, object line)
    {
        var json = JsonSerializer.SerializeToNode(line, AfsConsole.JsonOptions)!;
        json["attempt_errors"] = JsonSerializer.SerializeToNode(r.AttemptErrors.Select(a => new { attempt = a.Attempt, kind = TaskErrorKinds.Name(a.Kind), message = a.Message }), AfsConsole.JsonOptions);
        json["llm_usage"] = r.LlmUsage is { } u ? JsonSerializer.SerializeToNode(new
        {
            requests = u.Requests,
            errors = u.Errors,
            prompt_tokens = u.PromptTokens,
            completion_tokens = u.CompletionTokens,
            total_tokens = u.TotalTokens,
            latency_ms_total = u.LatencyMsTotal,
        }, AfsConsole.JsonOptions) : null;
        json["transcript"] = r.Transcript is { } t
            ? JsonSerializer.SerializeToNode(new { exchanges = t.Exchanges, exchanges_dropped = t.ExchangesDropped }, AfsConsole.JsonOptions)
            : null;
        return json;
    }
}
