using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.View;

/// <summary>
/// One task: its outcome and figures, the previous and next task, its conversation with the model (system, user and
/// assistant bubbles, each exchange with its model, tokens and latency) or its episode's steps (observation, action,
/// reward), and beside it the result, whose text fields read as text.
/// </summary>
internal static class TaskPage
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, MaxDepth = ResultLimits.MaxDepth + 16 };

    public static string Render(ViewLinks links, RunInfo run, TaskResult r, long? previous, long? next)
    {
        var html = new StringBuilder();
        html.Append(Format.Inv, $"<h2>Task {r.TaskId} of run {Html.Encode(run.Id)} {(r.Completed ? "<span class=\"ok\">completed</span>" : "<span class=\"bad\">failed</span>")}</h2>");
        html.Append("<nav class=\"neighbours\" aria-label=\"Tasks\">");
        html.Append(previous is { } p ? $"<a rel=\"prev\" id=\"previous-task\" href=\"{links.Task(run.Id, p)}\">← task {p}</a>" : "<span class=\"muted\">first task</span>");
        html.Append(Format.Inv, $"<a href=\"{links.Run(run.Id)}#tasks\">all tasks of the run</a>");
        html.Append(next is { } n ? $"<a rel=\"next\" id=\"next-task\" href=\"{links.Task(run.Id, n)}\">task {n} →</a>" : "<span class=\"muted\">last task</span>");
        html.Append("</nav>");

        html.Append("<div class=\"card\"><dl class=\"figures small\" id=\"task-figures\">");
        Field(html, "score", SvgCharts.Fmt(r.Score));
        Field(html, "success", r.Success ? "<span class=\"ok\">yes</span>" : "<span class=\"bad\">no</span>");
        Field(html, "outcome", r.Completed ? "result" : $"<span class=\"bad\">{Html.Encode(TaskErrorKinds.Name(r.ErrorKind))}</span>");
        Field(html, "duration", Format.Duration(r.Duration) + (r.FromCache ? " <span class=\"muted\">(from the cache)</span>" : ""));
        Field(html, "attempts", r.Attempts.ToString(Format.Inv));
        if (r.LlmUsage is { } used)
        {
            Field(html, "model calls", string.Create(Format.Inv, $"{used.Requests} · {used.PromptTokens}+{used.CompletionTokens} tokens{(used.Errors > 0 ? $" · <span class=\"bad\">{used.Errors} failed</span>" : "")}"));
        }
        Field(html, "started", Format.Date(r.StartedAt));
        html.Append("</dl></div>");
        if (!r.Completed)
        {
            html.Append("<h2>Error</h2><pre id=\"error\">").Append(Html.Encode(r.Error ?? "(no message)")).Append("</pre>");
        }
        if (r.AttemptErrors.Count > 0)
        {
            html.Append("<h2>Failed attempts</h2><div class=\"scroll\"><table id=\"attempts\"><thead><tr><th scope=\"col\" class=\"num\">attempt</th><th scope=\"col\">kind</th><th scope=\"col\">message</th></tr></thead><tbody>");
            foreach (var a in r.AttemptErrors)
            {
                html.Append(Format.Inv, $"<tr><td class=\"num\">{a.Attempt}</td><td>{TaskErrorKinds.Name(a.Kind)}</td><td class=\"wide\">{Html.Encode(a.Message)}</td></tr>");
            }
            html.Append("</tbody></table></div>");
        }

        var episode = Trajectory.Of(r.Value);
        html.Append("<div class=\"task-layout\"><section class=\"conversation\" id=\"conversation\" aria-labelledby=\"conversation-title\">");
        if (episode is not null)
        {
            Episode(html, episode);
        }
        if (r.Transcript is { } transcript)
        {
            Transcript(html, transcript, r.FromCache);
        }
        else if (episode is null)
        {
            html.Append("<h2 id=\"conversation-title\">Conversation</h2><p class=\"card muted\" id=\"no-transcript\">")
                .Append(run.RecordTranscripts
                    ? "No model call of this task was recorded: the environment made none through afs's LLM gateway (an isolated network, <code>--network isolated</code>, sends every call through it)."
                    : "This run was made with transcripts off: what the model was sent and answered was not kept.")
                .Append("</p>");
        }
        html.Append("</section><section class=\"result\" id=\"result-section\" aria-labelledby=\"result-title\"><h2 id=\"result-title\">Result</h2>");
        if (r.Value is { } value)
        {
            ResultFields(html, value, episode is not null);
            html.Append("<details class=\"raw\"><summary>The whole result as JSON</summary><pre id=\"result\">").Append(Html.Encode(JsonSerializer.Serialize(value, Indented))).Append("</pre></details>");
        }
        else
        {
            html.Append("<p class=\"card muted\">No result: the call failed.</p>");
        }
        return html.Append("</section></div>").ToString();
    }

    private static void Transcript(StringBuilder html, LlmTranscript transcript, bool cached)
    {
        html.Append(Format.Inv, $"<h2 id=\"conversation-title\">Conversation <span class=\"muted\">({transcript.Exchanges.Count} exchange{(transcript.Exchanges.Count == 1 ? "" : "s")} with the model)</span></h2>");
        if (cached)
        {
            html.Append("<p class=\"muted note\" id=\"cached-transcript\">This result was served from the cache: the conversation is the one of the result it copies.</p>");
        }
        foreach (var turn in Conversation.Of(transcript))
        {
            var e = turn.Exchange;
            html.Append(Format.Inv, $"""
                <article class="exchange" data-exchange="{turn.Number}"><header class="exchange-head"><strong>exchange {turn.Number}</strong>
                <span class="muted">{Html.Encode(e.Endpoint)} · {Html.Encode(Conversation.Figures(e))}</span></header>
                """);
            if (turn.Resent > 0)
            {
                html.Append(Format.Inv, $"<p class=\"resent muted\">… the {turn.Resent} earlier message{(turn.Resent == 1 ? "" : "s")} of the conversation, sent again</p>");
            }
            foreach (var message in turn.Added)
            {
                Bubble(html, message.Role, message.Name is { } name ? $"{message.Role} ({name})" : message.Role, message.Content, message.Truncated);
                if (message.ToolCalls is { } calls)
                {
                    Bubble(html, message.Role, "tool calls", Pretty(calls), false, code: true);
                }
            }
            if (e.Reasoning is { } reasoning)
            {
                html.Append("<details class=\"msg reasoning\" data-role=\"reasoning\"><summary>reasoning</summary><div class=\"text\">").Append(Html.Encode(reasoning)).Append("</div></details>");
            }
            if (e.Reply is not null || (e.ToolCalls is null && e.Error is null))
            {
                Bubble(html, "assistant", "assistant" + (e.Model is { } model ? $" · {model}" : ""), e.Reply ?? "(no text)", e.ReplyTruncated);
            }
            if (e.ToolCalls is { } toolCalls)
            {
                Bubble(html, "assistant", "tool calls", Pretty(toolCalls), e.ReplyTruncated, code: true);
            }
            if (e.Error is { } error)
            {
                Bubble(html, "error", string.Create(Format.Inv, $"error ({e.Status})"), error, false, code: true);
            }
            html.Append("</article>");
        }
        if (transcript.ExchangesDropped > 0)
        {
            html.Append(Format.Inv, $"<p class=\"card muted\">{transcript.ExchangesDropped} further exchange(s) were counted but not kept: past the gateway's limits per task.</p>");
        }
    }

    private static void Episode(StringBuilder html, Trajectory.Episode episode)
    {
        html.Append(Format.Inv, $"<h2 id=\"conversation-title\">Episode <span class=\"muted\">({episode.Steps.Count} step{(episode.Steps.Count == 1 ? "" : "s")}{(episode.StopReason is { } reason ? ", stopped: " + Html.Encode(reason) : "")})</span></h2>");
        if (episode.FirstObservation is { } first)
        {
            html.Append("<article class=\"exchange step\" data-step=\"0\"><header class=\"exchange-head\"><strong>reset</strong></header>");
            Bubble(html, "observation", "observation", Trajectory.Text(first), false);
            html.Append("</article>");
        }
        foreach (var step in episode.Steps)
        {
            var figures = new List<string> { "reward " + (step.Reward is { } reward ? SvgCharts.Fmt(reward) : "–") };
            if (step.Done)
            {
                figures.Add("done");
            }
            if (step.Truncated)
            {
                figures.Add("truncated");
            }
            if (step.LatencyMs is { } ms)
            {
                figures.Add("model " + Format.Duration(TimeSpan.FromMilliseconds(ms)));
            }
            if (step.PromptTokens is { } prompt)
            {
                figures.Add(string.Create(Format.Inv, $"{prompt}+{step.CompletionTokens ?? 0} tokens"));
            }
            html.Append(Format.Inv, $"<article class=\"exchange step\" data-step=\"{step.Number}\"><header class=\"exchange-head\"><strong>step {step.Number}</strong> <span class=\"muted\">{Html.Encode(string.Join(" · ", figures))}</span></header>");
            if (step.Action is { } action)
            {
                Bubble(html, "action", "action", Trajectory.Text(action), false);
            }
            if (step.Observation is { } observation)
            {
                Bubble(html, "observation", "observation", Trajectory.Text(observation), false);
            }
            html.Append("</article>");
        }
    }

    /// <summary>Each field of the result: text as text (its newlines real), figures as they are, structures as indented JSON.</summary>
    private static void ResultFields(StringBuilder html, JsonElement value, bool trajectoryShown)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            html.Append("<pre class=\"text\">").Append(Html.Encode(Trajectory.Text(value))).Append("</pre>");
            return;
        }
        html.Append("<dl class=\"result-fields\" id=\"result-fields\">");
        foreach (var field in value.EnumerateObject())
        {
            html.Append(Format.Inv, $"<dt data-field=\"{Html.Encode(field.Name)}\">{Html.Encode(field.Name)}</dt><dd>");
            switch (field.Value.ValueKind)
            {
                case JsonValueKind.String:
                    html.Append("<pre class=\"text\">").Append(Html.Encode(field.Value.GetString())).Append("</pre>");
                    break;
                case JsonValueKind.Array when trajectoryShown && field.Name == "trajectory":
                    html.Append(Format.Inv, $"<span class=\"muted\">{field.Value.GetArrayLength()} steps, shown as the episode</span>");
                    break;
                case JsonValueKind.Object or JsonValueKind.Array:
                    html.Append("<pre>").Append(Html.Encode(JsonSerializer.Serialize(field.Value, Indented))).Append("</pre>");
                    break;
                default:
                    html.Append("<code>").Append(Html.Encode(field.Value.GetRawText())).Append("</code>");
                    break;
            }
            html.Append("</dd>");
        }
        html.Append("</dl>");
    }

    private static void Bubble(StringBuilder html, string role, string title, string? text, bool truncated, bool code = false)
    {
        var kind = role is "system" or "user" or "assistant" or "tool" or "observation" or "action" or "error" ? role : "other";
        html.Append(Format.Inv, $"<div class=\"msg {kind}\" data-role=\"{Html.Encode(role)}\"><div class=\"role\">{Html.Encode(title)}{(truncated ? " <span class=\"bad\">(cut at the gateway's limit)</span>" : "")}</div>");
        html.Append(code ? "<pre class=\"text\">" : "<div class=\"text\">").Append(Html.Encode(text ?? "")).Append(code ? "</pre>" : "</div>").Append("</div>");
    }

    private static string Pretty(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return JsonSerializer.Serialize(document.RootElement, Indented);
        }
        catch (JsonException)
        {
            return json;
        }
    }

    private static void Field(StringBuilder html, string name, string valueHtml) => html.Append(Format.Inv, $"<div><dt>{name}</dt><dd>{valueHtml}</dd></div>");
}
