using System.Text.RegularExpressions;

namespace Affinetes.Injector.Building;

/// <summary>
/// Reads a classic Docker build's output stream: plain lines (ANSI escapes removed), the builder's own noise
/// ("---> abc", "Removing intermediate container") set apart, and the output of the step running now kept, so
/// that a failure can name its step and show that step's output once.
/// </summary>
internal sealed partial class BuildLog
{
    private const int MaxStepLines = 60;

    private readonly List<string> _stepOutput = [];

    /// <summary>The step running now, e.g. <c>Step 3/5 : RUN pip install -r requirements.txt</c>.</summary>
    public string? CurrentStep { get; private set; }

    /// <summary>The current step's own output (the last lines when it printed many).</summary>
    public IReadOnlyList<string> StepOutput => _stepOutput;

    /// <summary>Takes one chunk of the stream; returns the lines worth showing to people as they come.</summary>
    public IEnumerable<string> Add(string chunk)
    {
        foreach (var raw in chunk.Split('\n'))
        {
            var line = Ansi().Replace(raw, "").TrimEnd('\r', ' ');
            if (line.Length == 0)
            {
                continue;
            }
            if (line.StartsWith("Step ", StringComparison.Ordinal) && StepHeader().IsMatch(line))
            {
                CurrentStep = line;
                _stepOutput.Clear();
                yield return line;
                continue;
            }
            if (Noise().IsMatch(line))
            {
                continue;
            }
            _stepOutput.Add(line);
            if (_stepOutput.Count > MaxStepLines)
            {
                _stepOutput.RemoveAt(0);
            }
            yield return line;
        }
    }

    /// <summary>Whether the step's output says a download failed for want of network (the build has none, or a registry is out of reach).</summary>
    public bool DownloadFailed(string error) =>
        _stepOutput.Append(error).Any(line => NetworkFailure().IsMatch(line));

    [GeneratedRegex(@"\x1B\[[0-9;?]*[ -/]*[@-~]|\x1B[@-Z\\-_]")]
    private static partial Regex Ansi();

    [GeneratedRegex(@"^Step \d+/\d+ : ")]
    private static partial Regex StepHeader();

    [GeneratedRegex(@"^( ---> |Removing intermediate container |Successfully built |Successfully tagged |Sending build context)")]
    private static partial Regex Noise();

    [GeneratedRegex(@"(Temporary failure in name resolution|Could not resolve|Name or service not known|Network is unreachable|Failed to establish a new connection|Could not fetch URL|No matching distribution found|Connection refused|Connection timed out|Could not connect to|Failed to fetch|getaddrinfo|dial tcp)", RegexOptions.IgnoreCase)]
    private static partial Regex NetworkFailure();
}
