using Affinetes.Protocol;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.View;

/// <summary>
/// A task's transcript as a conversation to read: each exchange with the messages it added (the history a request
/// resends is shown once, and the previous reply is not repeated as the next request's assistant message) and its
/// reply. Shared by <c>afs show --task</c> and the task page.
/// </summary>
internal static class Conversation
{
    /// <summary>One exchange as read: what it added to the conversation, and how many earlier messages it resent.</summary>
    public sealed record Turn(int Number, ExchangeRecord Exchange, IReadOnlyList<ExchangeMessage> Added, int Resent);

    public static IReadOnlyList<Turn> Of(LlmTranscript transcript)
    {
        var turns = new List<Turn>(transcript.Exchanges.Count);
        ExchangeRecord? previous = null;
        foreach (var exchange in transcript.Exchanges)
        {
            var added = exchange.Messages.ToList();
            var resent = exchange.RepeatedMessages;
            if (previous?.Reply is { } reply && resent > 0 && added.Count > 0 && added[0] is { Role: "assistant" } echoed && echoed.Content == reply)
            {
                added.RemoveAt(0);
                resent++;
            }
            turns.Add(new Turn(turns.Count + 1, exchange, added, resent));
            previous = exchange;
        }
        return turns;
    }

    /// <summary>Tokens and latency of an exchange on one line: <c>model m · 200 · 512 ms · 31+7 tokens · stream</c>.</summary>
    public static string Figures(ExchangeRecord e)
    {
        var parts = new List<string>();
        if (e.Model is { } model)
        {
            parts.Add(model);
        }
        parts.Add(e.Status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        parts.Add(e.LatencyMs.ToString("0", System.Globalization.CultureInfo.InvariantCulture) + " ms");
        if (e.PromptTokens is { } prompt)
        {
            parts.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{prompt}+{e.CompletionTokens ?? 0} tokens"));
        }
        if (e.Stream)
        {
            parts.Add("streamed");
        }
        if (e.FinishReason is { } finish && finish != "stop")
        {
            parts.Add("finish: " + finish);
        }
        return string.Join(" · ", parts);
    }
}
