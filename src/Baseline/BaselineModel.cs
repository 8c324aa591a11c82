using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Affinetes.Baseline;

/// <summary>
/// The offline baseline "model": not a language model, a keyword heuristic for word problems about quantities, so
/// that an evaluation runs end to end where no LLM can be reached, with scores that are neither all 0 nor all 1.
/// <para>
/// The rule: the first number of the question is the starting quantity. Each later sentence with numbers changes
/// it: two numbers and the word "each" add their product ("buys 3 boxes holding 30 coins each"); "more", "finds",
/// "receives", "gets", "earns" or "buys" add the number; "away", "loses", "eats", "sells", "spends", "uses" or
/// "gives" subtract it. Any other sentence is not understood and changes nothing (so multiplying and sharing are
/// ignored, and problems with them are answered wrong). The reply ends with <c>Answer: N</c>; a question without
/// a number gets a reply without one.
/// </para>
/// </summary>
public static partial class BaselineModel
{
    /// <summary>The name the baseline answers under (the <c>model</c> of its completions), so results say what answered.</summary>
    public const string Name = "affinetes-baseline";

    /// <summary>Which heuristic answered (the completions' <c>system_fingerprint</c>).</summary>
    public const string Fingerprint = "affinetes-baseline-keywords-v1";

    /// <summary>The first line of every reply.</summary>
    public const string Disclaimer = "[affinetes-baseline: a keyword heuristic, not a language model]";

    [GeneratedRegex(@"(?<=[.!?])\s+")]
    private static partial Regex SentenceBreak();

    [GeneratedRegex(@"\d{1,3}(?:,\d{3})+(?!\d)|\d+")]
    private static partial Regex Integer();

    [GeneratedRegex(@"\beach\b", RegexOptions.IgnoreCase)]
    private static partial Regex Each();

    [GeneratedRegex(@"\b(more|finds|found|receives|received|gets|got|earns|earned|buys|bought)\b", RegexOptions.IgnoreCase)]
    private static partial Regex Adds();

    [GeneratedRegex(@"\b(away|loses|lost|eats|ate|sells|sold|spends|spent|uses|used|gives|gave)\b", RegexOptions.IgnoreCase)]
    private static partial Regex Subtracts();

    /// <summary>The baseline's reply to <paramref name="question"/>: its working, then <c>Answer: N</c> when it found a quantity.</summary>
    public static string Answer(string question)
    {
        var reply = new StringBuilder(Disclaimer).Append('\n');
        long? value = null;
        var ignored = 0;
        foreach (var sentence in SentenceBreak().Split(question.Trim()))
        {
            var numbers = Integer().Matches(sentence).Select(m => long.Parse(m.Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture)).ToList();
            if (numbers.Count == 0)
            {
                continue;
            }
            if (value is not { } current)
            {
                value = numbers[0];
                reply.Append(CultureInfo.InvariantCulture, $"Start with {numbers[0]}.\n");
            }
            else if (numbers.Count >= 2 && Each().IsMatch(sentence))
            {
                value = current + (numbers[0] * numbers[1]);
                reply.Append(CultureInfo.InvariantCulture, $"Add {numbers[0]} x {numbers[1]} = {numbers[0] * numbers[1]}: {value}.\n");
            }
            else if (Adds().IsMatch(sentence))
            {
                value = current + numbers[0];
                reply.Append(CultureInfo.InvariantCulture, $"Add {numbers[0]}: {value}.\n");
            }
            else if (Subtracts().IsMatch(sentence))
            {
                value = current - numbers[0];
                reply.Append(CultureInfo.InvariantCulture, $"Take away {numbers[0]}: {value}.\n");
            }
            else
            {
                ignored++;
            }
        }
        if (value is not { } answer)
        {
            return reply.Append("This question has no quantity the baseline can work with, so it gives no answer.").ToString();
        }
        if (ignored > 0)
        {
            reply.Append(CultureInfo.InvariantCulture, $"Not understood, left out: {ignored} sentence(s).\n");
        }
        return reply.Append(CultureInfo.InvariantCulture, $"Answer: {answer}").ToString();
    }
}
