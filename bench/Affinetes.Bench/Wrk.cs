using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Affinetes.Bench;

/// <summary>One load run of wrk (C, 2 threads, as the original was measured) and what it reported.</summary>
public sealed record WrkResult(double RequestsPerSecond, double P50Ms, double P99Ms, long Requests, long Errors)
{
    public override string ToString() =>
        $"{RequestsPerSecond,10:N0} calls/s  p50 {P50Ms,7:0.00} ms  p99 {P99Ms,7:0.00} ms  ({Requests:N0} calls, {Errors} errors)";
}

public static partial class Wrk
{
    public static void Require()
    {
        if (!File.Exists("/usr/bin/wrk"))
        {
            throw new InvalidOperationException("wrk is missing: run scripts/setup-bench.sh (apt-get install -y wrk)");
        }
    }

    /// <summary>
    /// Warm-up for servers published ReadyToRun (the host, the gateway): their code reaches its re-jitted steady state
    /// after ~9 s of load (plain JIT after ~3 s).
    /// </summary>
    public static readonly TimeSpan PublishedWarmup = TimeSpan.FromSeconds(12);

    /// <summary>Rounds of an interleaved comparison unless told.</summary>
    public const int Rounds = 5;

    /// <summary>Runs each of <paramref name="loads"/> in turn, <see cref="Rounds"/> times.</summary>
    public static Task<List<WrkResult>[]> InterleavedAsync(params IReadOnlyList<Func<Task<WrkResult>>> loads) => InterleavedAsync(Rounds, loads);

    /// <summary>
    /// Runs each of <paramref name="loads"/> in turn, <paramref name="rounds"/> times, so that a slow spell of this
    /// shared machine hits every load alike; returns each load's runs, in the order given.
    /// </summary>
    public static async Task<List<WrkResult>[]> InterleavedAsync(int rounds, IReadOnlyList<Func<Task<WrkResult>>> loads)
    {
        var runs = loads.Select(_ => new List<WrkResult>()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var i = 0; i < loads.Count; i++)
            {
                runs[i].Add(await loads[i]());
            }
        }
        return runs;
    }

    /// <summary>The median of <paramref name="runs"/> by <paramref name="key"/>.</summary>
    public static WrkResult Median(IReadOnlyList<WrkResult> runs, Func<WrkResult, double> key) => runs.OrderBy(key).ElementAt(runs.Count / 2);

    /// <summary>POSTs <paramref name="body"/> (and <paramref name="headers"/>) to <paramref name="url"/> for <paramref name="duration"/> over <paramref name="connections"/> connections.</summary>
    public static async Task<WrkResult> RunAsync(string url, string body, int connections, TimeSpan duration, int threads = 2, IReadOnlyDictionary<string, string>? headers = null)
    {
        var script = Path.Combine(Path.GetTempPath(), $"affinetes-wrk-{Guid.NewGuid():N}.lua");
        static string Escape(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal);
        var extra = string.Concat((headers ?? new Dictionary<string, string>()).Select(h => $"\nwrk.headers['{Escape(h.Key)}'] = '{Escape(h.Value)}'"));
        await File.WriteAllTextAsync(script, $"""
            wrk.method = "POST"
            wrk.body = '{Escape(body)}'
            wrk.headers["Content-Type"] = "application/json"
            """ + extra);
        try
        {
            var start = new ProcessStartInfo("/usr/bin/wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { $"-t{threads}", $"-c{connections}", $"-d{(int)duration.TotalSeconds}s", "--latency", "--timeout", "10s", "-s", script, url })
            {
                start.ArgumentList.Add(arg);
            }
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            var error = await process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(duration + TimeSpan.FromSeconds(30)))
            {
                process.Kill();
                throw new TimeoutException("wrk did not finish");
            }
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"wrk failed: {error}{output}");
            }
            return Parse(output);
        }
        finally
        {
            File.Delete(script);
        }
    }

    private static WrkResult Parse(string output)
    {
        double Number(Regex pattern)
        {
            var m = pattern.Match(output);
            return m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        }
        double Latency(string percentile)
        {
            var m = Regex.Match(output, $@"^\s+{percentile}%\s+([0-9.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
            if (!m.Success)
            {
                return double.NaN;
            }
            var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            return m.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
        }
        var socketErrors = SocketErrors().Match(output);
        long errors = (long)Number(Non2xx());
        if (socketErrors.Success)
        {
            errors += socketErrors.Groups.Values.Skip(1).Sum(g => long.Parse(g.Value, CultureInfo.InvariantCulture));
        }
        return new WrkResult(Number(RequestsPerSecond()), Latency("50"), Latency("99"), (long)Number(Requests()), errors);
    }

    [GeneratedRegex(@"Requests/sec:\s+([0-9.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"([0-9]+) requests in")]
    private static partial Regex Requests();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+([0-9]+)")]
    private static partial Regex Non2xx();

    [GeneratedRegex(@"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)")]
    private static partial Regex SocketErrors();
}
