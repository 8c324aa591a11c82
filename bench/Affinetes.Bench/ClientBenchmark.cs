using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Bench;

/// <summary>
/// The validator's side, through <see cref="AffinetesClient"/>: (1) async <c>evaluate</c> sleeping 50 ms at 256 calls
/// in flight over 4 docker replicas, (2) sync <c>echo</c> at 32 and 256 in flight to one fast host in url mode, against
/// the Python original's client call path (<c>original/client.py</c>, httpx) on the same host, and (3) the time until
/// 1 and 4 docker replicas are ready. Every run is bounded in calls and time and stays on 127.0.0.1.
/// </summary>
public static class ClientBenchmark
{
    private const int Runs = 3;
    private const int WarmupBatch = 2000;
    private const int OriginalCalls = 5000;
    // Tiered JIT (tier 0, instrumented, then optimised code) needs seconds of steady calls: runs measured after a
    // warm-up of 1,000 calls were dominated by it (5,000-call runs gave 2x the CPU per call of 30,000-call runs).
    private static readonly TimeSpan WarmupTime = TimeSpan.FromSeconds(3);
    private const int EvaluateDelayMs = 50;
    private const int EvaluateConcurrency = 256;
    private const int PoolReplicas = 4;
    private const string EchoBody = """{"method":"echo","args":[],"kwargs":{"x":1,"text":"hello"}}""";
    private static readonly int[] EchoConcurrencies = [32, 256];
    private static readonly TimeSpan RunLimit = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan LoadLimit = TimeSpan.FromMinutes(3);

    /// <summary>One measured run (the median of <see cref="Runs"/> by calls/s).</summary>
    public sealed record LoadResult(string Client, string Mode, string Method, int Concurrency, int Calls, long Errors,
        double CallsPerSecond, double CpuUsPerCall, double P50Ms, double P99Ms);

    public static async Task<int> RunAsync(string hostBinary, int calls, bool withOriginal, bool withDocker, string output)
    {
        var loads = new List<LoadResult>();
        var readiness = new List<ReadinessBenchmark.ReadyResult>();
        var loadAverageBefore = LoadAverage();

        await MeasureUrlModeAsync(hostBinary, calls, withOriginal, loads);
        if (withDocker)
        {
            await MeasureDockerModeAsync(calls, loads, readiness);
        }

        var loadAverageAfter = LoadAverage();
        Print(loads, readiness);
        // Client and servers share this machine's cores: a load average above the core count means other work competed.
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average (1 min) {loadAverageBefore} before, {loadAverageAfter} after");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new
        {
            date = DateTime.UtcNow,
            machine = new { cores = Environment.ProcessorCount, load_average_before = loadAverageBefore, load_average_after = loadAverageAfter },
            calls_per_run = calls,
            runs = Runs,
            loads,
            readiness,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"results written to {output}");
        return loads.Any(l => l.Errors > 0) ? 1 : 0;
    }

    private static async Task MeasureUrlModeAsync(string hostBinary, int calls, bool withOriginal, List<LoadResult> loads)
    {
        Console.WriteLine("== url mode: echo to one affinetes-host on 127.0.0.1");
        var port = ServerProcess.FreePort();
        var start = new ProcessStartInfo(hostBinary);
        start.Environment["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "envs", "bench_env.py");
        start.Environment["AFFINETES_BIND"] = "127.0.0.1";
        start.Environment["AFFINETES_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["PATH"] = "/usr/bin:" + Environment.GetEnvironmentVariable("PATH");
        // The host's per-call log lines would be read by this process and counted as client CPU.
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        await using var host = await ServerProcess.StartAsync(start, port, EchoBody);

        using var loading = new CancellationTokenSource(LoadLimit);
        await using (var env = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions
        {
            Mode = EnvironmentMode.Url,
            BaseUrls = [host.BaseUrl],
            ReadyTimeout = TimeSpan.FromSeconds(30),
        }, loading.Token))
        {
            foreach (var concurrency in EchoConcurrencies)
            {
                loads.Add(await MeasureOursAsync(env, "url", "echo", i => new Dictionary<string, object?> { ["x"] = i, ["text"] = "hello" }, concurrency, calls));
            }
        }
        if (!withOriginal)
        {
            return;
        }
        foreach (var concurrency in EchoConcurrencies)
        {
            // The original's pool (100 connections, 20 kept alive) and one as large as the concurrency: the faster is the baseline.
            foreach (var pool in new int?[] { null, concurrency })
            {
                // CPython has no JIT to warm up: 5,000 calls measure it as well as more, in a tenth of the time.
                loads.Add(await MeasureOriginalAsync(host.BaseUrl, concurrency, Math.Min(calls, OriginalCalls), pool));
            }
        }
    }

    private static async Task MeasureDockerModeAsync(int calls, List<LoadResult> loads, List<ReadinessBenchmark.ReadyResult> readiness)
    {
        await using var image = await BenchImage.BuildAsync("python-bench");
        var options = new EnvironmentOptions { Image = image.Tag, Replicas = PoolReplicas, ReadyTimeout = TimeSpan.FromSeconds(90) };
        using (var loading = new CancellationTokenSource(LoadLimit))
        {
            await using var env = await AffinetesClient.LoadEnvAsync(options, loading.Token);
            loads.Add(await MeasureOursAsync(env, $"docker x{PoolReplicas}", "evaluate",
                i => new Dictionary<string, object?> { ["task_id"] = i, ["delay_ms"] = EvaluateDelayMs }, EvaluateConcurrency, calls));
            Console.WriteLine($"   calls per replica: {string.Join(", ", env.GetStats().Select(s => s.Requests.ToString("N0", CultureInfo.InvariantCulture)))}");
        }
        Console.WriteLine("== docker mode: time until replicas are ready (LoadEnvAsync), cleanup between");
        readiness.AddRange(await ReadinessBenchmark.MeasureAsync(image.Tag, PoolReplicas, Runs));
    }

    /// <summary>A warm-up, then <see cref="Runs"/> runs of <paramref name="calls"/> calls; the median run by calls/s.</summary>
    private static async Task<LoadResult> MeasureOursAsync(IEnvironment env, string mode, string method,
        Func<int, IReadOnlyDictionary<string, object?>> kwargs, int concurrency, int calls)
    {
        var warming = Stopwatch.StartNew();
        do
        {
            await RunLoadAsync(env, method, kwargs, concurrency, WarmupBatch); // JIT tiers, connection pool
        }
        while (warming.Elapsed < WarmupTime);
        var runs = new List<LoadResult>();
        for (var run = 0; run < Runs; run++)
        {
            var (elapsed, cpu, latencies, errors) = await RunLoadAsync(env, method, kwargs, concurrency, calls);
            Array.Sort(latencies);
            runs.Add(new LoadResult("affinetes-dotnet", mode, method, concurrency, calls, errors, calls / elapsed.TotalSeconds,
                cpu.TotalMicroseconds / calls, Percentile(latencies, 0.50), Percentile(latencies, 0.99)));
        }
        return Report(runs);
    }

    private static async Task<(TimeSpan Elapsed, TimeSpan Cpu, double[] LatenciesMs, long Errors)> RunLoadAsync(IEnvironment env, string method,
        Func<int, IReadOnlyDictionary<string, object?>> kwargs, int concurrency, int calls)
    {
        var latencies = new double[calls];
        var next = -1;
        long errors = 0;
        using var limit = new CancellationTokenSource(RunLimit);

        async Task WorkerAsync()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < calls)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await env.CallAsync(method, kwargs: kwargs(i), cancellationToken: limit.Token);
                }
                catch (Exception e) when (e is AffinetesException or OperationCanceledException)
                {
                    Interlocked.Increment(ref errors);
                }
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        }

        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkerAsync)));
        var elapsed = clock.Elapsed;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        return (elapsed, cpu, latencies, errors);
    }

    /// <summary>The original's client call path (httpx) as a separate /usr/bin/python3 process, <see cref="Runs"/> times.</summary>
    private static async Task<LoadResult> MeasureOriginalAsync(string baseUrl, int concurrency, int calls, int? pool)
    {
        var runs = new List<LoadResult>();
        var name = pool is null ? "original httpx (pool 100/20)" : $"original httpx (pool {pool})";
        for (var run = 0; run < Runs; run++)
        {
            var start = new ProcessStartInfo("/usr/bin/python3")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = Path.Combine(AppContext.BaseDirectory, "original"),
            };
            var args = new List<string>
            {
                "client.py", "--url", baseUrl, "--method", "echo", "--concurrency", $"{concurrency}", "--calls", $"{calls}",
                "--time-limit", $"{RunLimit.TotalSeconds}",
            };
            if (pool is { } size)
            {
                args.AddRange(["--pool", $"{size}"]);
            }
            args.ForEach(start.ArgumentList.Add);
            using var process = Process.Start(start)!;
            using var limit = new CancellationTokenSource(RunLimit + TimeSpan.FromSeconds(30));
            var stdout = process.StandardOutput.ReadToEndAsync(limit.Token);
            var stderr = process.StandardError.ReadToEndAsync(limit.Token);
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("original/client.py did not finish in time");
            }
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"original/client.py failed ({process.ExitCode}); is python3-httpx installed (scripts/setup-bench.sh)?\n{await stderr}");
            }
            using var json = JsonDocument.Parse(await stdout);
            var r = json.RootElement;
            runs.Add(new LoadResult(name, "url", "echo", concurrency, calls, r.GetProperty("errors").GetInt64(), r.GetProperty("calls_per_s").GetDouble(),
                r.GetProperty("cpu_us_per_call").GetDouble(), r.GetProperty("p50_ms").GetDouble(), r.GetProperty("p99_ms").GetDouble()));
        }
        return Report(runs);
    }

    private static LoadResult Report(List<LoadResult> runs)
    {
        var median = runs.OrderBy(r => r.CallsPerSecond).ElementAt(runs.Count / 2);
        Console.WriteLine($"   {median.Client,-30} {median.Method,-8} x{median.Concurrency,-4} {median.CallsPerSecond,9:N0} calls/s  " +
            $"{median.CpuUsPerCall,7:0.0} us CPU/call  p50 {median.P50Ms,7:0.00} ms  p99 {median.P99Ms,7:0.00} ms  errors {runs.Sum(r => r.Errors)}  " +
            $"[runs: {string.Join(", ", runs.Select(r => r.CallsPerSecond.ToString("N0", CultureInfo.InvariantCulture)))} calls/s]");
        return median with { Errors = runs.Sum(r => r.Errors) };
    }

    private static void Print(List<LoadResult> loads, List<ReadinessBenchmark.ReadyResult> readiness)
    {
        Console.WriteLine();
        Console.WriteLine("| client | mode | method | in flight | calls/s | client CPU us/call | p50 / p99 ms | errors |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var l in loads)
        {
            Console.WriteLine($"| {l.Client} | {l.Mode} | {l.Method} | {l.Concurrency} | {l.CallsPerSecond:N0} | {l.CpuUsPerCall:0.0} | {l.P50Ms:0.00} / {l.P99Ms:0.00} | {l.Errors} |");
        }
        foreach (var concurrency in EchoConcurrencies)
        {
            var ours = loads.FirstOrDefault(l => l.Client == "affinetes-dotnet" && l.Method == "echo" && l.Concurrency == concurrency);
            var original = loads.Where(l => l.Client.StartsWith("original", StringComparison.Ordinal) && l.Concurrency == concurrency).MaxBy(l => l.CallsPerSecond);
            if (ours is not null && original is not null)
            {
                Console.WriteLine($"echo x{concurrency}: {ours.CallsPerSecond / original.CallsPerSecond:0.0}x the original's calls/s (target >= 10x), " +
                    $"{original.CpuUsPerCall / ours.CpuUsPerCall:0.0}x less client CPU per call (vs {original.Client})");
            }
        }
        if (loads.FirstOrDefault(l => l.Method == "evaluate") is { } evaluate)
        {
            var ideal = EvaluateConcurrency * 1000.0 / EvaluateDelayMs;
            Console.WriteLine($"evaluate: {evaluate.CallsPerSecond / ideal:P0} of the ideal {ideal:N0} calls/s at {EvaluateConcurrency} in flight, p50 {evaluate.P50Ms:0.0} ms (ideal {EvaluateDelayMs} ms)");
        }
        if (readiness.Count > 0)
        {
            ReadinessBenchmark.Print(readiness);
        }
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * p))];

    /// <summary>The 1-minute load average: above the core count, other work competed with the measurement.</summary>
    public static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
}
