using System.IO.Hashing;
using System.Runtime.InteropServices;
using Affinetes.Protocol;

namespace Affinetes.LlmGateway.Transcripts;

/// <summary>
/// One environment's transcripts: each exchange of each task, kept until the task is collected and then forgotten.
/// Bounded (<see cref="TranscriptBounds"/>): each text is cut at the per-text limit, a task's texts share the per-task
/// limit, a task keeps a limited number of exchanges, and the environment holds a limited amount in all; whatever is
/// cut is marked, whatever is left out is counted. A request's leading messages that repeat the task's previous
/// exchange (a conversation resending its history) are kept once.
/// </summary>
internal sealed class TranscriptRecorder(TranscriptBounds bounds)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, TaskTranscript> _tasks = new(StringComparer.Ordinal);
    private long _heldChars;

    /// <summary>Characters held for tasks not collected yet.</summary>
    public long HeldChars
    {
        get
        {
            lock (_gate)
            {
                return _heldChars;
            }
        }
    }

    /// <summary>Keeps <paramref name="draft"/> for <paramref name="task"/>, every text masked of <paramref name="upstreamKey"/> first.</summary>
    public void Add(string task, ExchangeDraft draft, string? upstreamKey)
    {
        var messages = draft.Messages.Select(m => m with
        {
            Content = Mask(m.Content, upstreamKey),
            ToolCalls = Mask(m.ToolCalls, upstreamKey),
        }).ToList();
        var hashes = messages.Select(Hash).ToArray();
        var reply = draft.Reply;
        var texts = new ReplyTexts(Mask(reply?.Content, upstreamKey), Mask(reply?.Reasoning, upstreamKey), Mask(reply?.ToolCalls, upstreamKey),
            Mask(draft.Error ?? reply?.ErrorBody, upstreamKey));
        lock (_gate)
        {
            if (!_tasks.TryGetValue(task, out var transcript))
            {
                if (_tasks.Count >= bounds.MaxTasks)
                {
                    return; // as many tasks as the meter tracks: this one is counted there, not recorded
                }
                _tasks[task] = transcript = new TaskTranscript();
            }
            if (transcript.Exchanges.Count >= bounds.ExchangesPerTask || _heldChars >= bounds.EnvironmentChars)
            {
                transcript.Dropped++;
                return;
            }
            var repeated = 0;
            while (repeated < hashes.Length && repeated < transcript.LastHashes.Length && hashes[repeated] == transcript.LastHashes[repeated])
            {
                repeated++;
            }
            var budget = new Budget(bounds.MessageChars, Math.Min(bounds.TaskChars - transcript.Chars, bounds.EnvironmentChars - _heldChars));
            var kept = new List<ExchangeMessage>(messages.Count - repeated);
            var requestTruncated = false;
            foreach (var message in messages.Skip(repeated))
            {
                var (content, cut) = budget.Take(message.Content);
                var (toolCalls, callsCut) = budget.Take(message.ToolCalls);
                requestTruncated |= cut || callsCut;
                kept.Add(message with { Content = content, ToolCalls = toolCalls, Truncated = cut || callsCut });
            }
            var (replyText, replyCut) = budget.Take(texts.Content);
            var (reasoning, reasoningCut) = budget.Take(texts.Reasoning);
            var (toolCallsText, toolCallsCut) = budget.Take(texts.ToolCalls);
            var error = texts.Error is { Length: var length } e && length > bounds.ErrorChars ? e[..bounds.ErrorChars] + "…" : texts.Error;
            transcript.Exchanges.Add(new ExchangeRecord
            {
                StartedAt = draft.StartedAt,
                Endpoint = draft.Endpoint,
                Model = reply?.Model ?? draft.Model,
                Stream = draft.Stream,
                Status = draft.Status,
                Error = error,
                LatencyMs = Math.Round(draft.Latency.TotalMilliseconds, 3),
                PromptTokens = draft.Tokens?.Prompt,
                CompletionTokens = draft.Tokens?.Completion,
                TotalTokens = draft.Tokens?.Total,
                RepeatedMessages = repeated,
                Messages = kept,
                Reply = replyText,
                Reasoning = reasoning,
                ToolCalls = toolCallsText,
                FinishReason = reply?.FinishReason,
                RequestTruncated = requestTruncated,
                ReplyTruncated = replyCut || reasoningCut || toolCallsCut || reply?.Incomplete == true,
            });
            var used = budget.Used + (error?.Length ?? 0);
            transcript.Chars += used;
            _heldChars += used;
            transcript.LastHashes = hashes;
        }
    }

    /// <summary>The named tasks' exchanges since they were last collected; the recorder forgets them.</summary>
    public Dictionary<string, (IReadOnlyList<ExchangeRecord> Exchanges, int Dropped)> Collect(IEnumerable<string> tasks)
    {
        var collected = new Dictionary<string, (IReadOnlyList<ExchangeRecord>, int)>(StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var task in tasks)
            {
                if (_tasks.Remove(task, out var transcript))
                {
                    _heldChars -= transcript.Chars;
                    collected[task] = (transcript.Exchanges, transcript.Dropped);
                }
            }
        }
        return collected;
    }

    private static string? Mask(string? text, string? key) =>
        text is null || string.IsNullOrEmpty(key) || !text.Contains(key, StringComparison.Ordinal) ? text : text.Replace(key, new string('*', key.Length), StringComparison.Ordinal);

    /// <summary>Identifies a message for the repeated-prefix check (128 bits: two messages that differ never match in practice).</summary>
    private static UInt128 Hash(ExchangeMessage message)
    {
        var hash = new XxHash128();
        foreach (var part in (ReadOnlySpan<string?>)[message.Role, message.Content, message.Name, message.ToolCalls, message.ToolCallId])
        {
            hash.Append(MemoryMarshal.AsBytes((part ?? "\0null").AsSpan()));
            hash.Append(BitConverter.GetBytes(part?.Length ?? -1));
        }
        return hash.GetCurrentHashAsUInt128();
    }

    private sealed record ReplyTexts(string? Content, string? Reasoning, string? ToolCalls, string? Error);

    /// <summary>Hands out characters: each text at most the per-text limit, all of them together at most what is left.</summary>
    private sealed class Budget(int perText, long left)
    {
        public long Used { get; private set; }

        public (string? Kept, bool Cut) Take(string? text)
        {
            if (text is null)
            {
                return (null, false);
            }
            var room = (int)Math.Max(0, Math.Min(perText, left - Used));
            if (room > 0 && room < text.Length && char.IsHighSurrogate(text[room - 1]))
            {
                room--; // never half a character
            }
            var kept = text.Length <= room ? text : text[..room];
            Used += kept.Length;
            return (kept, kept.Length < text.Length);
        }
    }

    private sealed class TaskTranscript
    {
        public List<ExchangeRecord> Exchanges { get; } = [];
        public int Dropped { get; set; }
        public long Chars { get; set; }
        public UInt128[] LastHashes { get; set; } = [];
    }
}
