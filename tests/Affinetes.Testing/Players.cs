using System.Globalization;
using System.Text.RegularExpressions;

namespace Affinetes.Testing;

/// <summary>Answers of the local LLM server that play the test environments (python-guess, the shapes actor).</summary>
public static partial class Players
{
    /// <summary>python-guess by binary search over the hints in the conversation so far.</summary>
    public static LlmReply BinarySearch(ChatRequest request)
    {
        int low = 1, high = 100;
        foreach (var message in request.Messages.Where(m => m.Role == "user"))
        {
            var hint = Hint().Match(message.Content);
            if (hint.Success)
            {
                var guess = int.Parse(hint.Groups[1].Value, CultureInfo.InvariantCulture);
                (low, high) = hint.Groups[2].Value == "higher" ? (guess + 1, high) : (low, guess - 1);
            }
        }
        return LlmReply.Text(((low + high) / 2).ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>The task id of the shapes environment's first observation (<c>task N: ...</c>).</summary>
    public static long ShapesTask(ChatRequest request) =>
        long.Parse(ShapesTaskId().Match(request.Messages.First(m => m.Role == "user").Content).Groups[1].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(\d+) is wrong: the secret is (higher|lower)")]
    private static partial Regex Hint();

    [GeneratedRegex(@"^task (\d+):")]
    private static partial Regex ShapesTaskId();
}
