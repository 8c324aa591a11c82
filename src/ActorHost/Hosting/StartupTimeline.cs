using System.Diagnostics;
using System.Globalization;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// Moments of the host's start-up, logged at debug level once the actor is ready (<c>Logging__LogLevel__Default=Debug</c>):
/// <c>start-up: exec +0 ms, composed +41 ms, listening +120 ms, actor ready +190 ms</c>, each from the process's own
/// start (what the kernel recorded), so the runtime's own start before <c>Main</c> shows too.
/// </summary>
internal static class StartupTimeline
{
    private static readonly List<(string What, long Timestamp)> Marks = [];
    private static readonly Lock Gate = new();

    /// <summary>Notes that <paramref name="what"/> happened now.</summary>
    public static void Mark(string what)
    {
        var now = Stopwatch.GetTimestamp();
        lock (Gate)
        {
            Marks.Add((what, now));
        }
    }

    /// <summary>The marks so far, in milliseconds since the process started.</summary>
    public static string Describe()
    {
        var now = Stopwatch.GetTimestamp();
        double sinceStart;
        using (var process = Process.GetCurrentProcess())
        {
            sinceStart = (DateTime.Now - process.StartTime).TotalMilliseconds;
        }
        lock (Gate)
        {
            return "exec +0 ms, " + string.Join(", ", Marks.Select(m =>
                $"{m.What} +{(sinceStart - Stopwatch.GetElapsedTime(m.Timestamp, now).TotalMilliseconds).ToString("0", CultureInfo.InvariantCulture)} ms"));
        }
    }
}
