using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Affinetes.Bench;

/// <summary>
/// The host's three runtimes side by side in one run, against their floors: sync echo at 32 connections (Python, C#,
/// and a bare Kestrel JSON endpoint), the 50 ms async evaluate at 256 connections (Python, C#), cold start (Python; C#
/// with and without its compile cache), and the sidecar's forwarding overhead (the same server called directly and
/// through the host, at 1 and 32 connections).
/// </summary>
public static class RuntimesBenchmark
{
    private const string EchoBody = """{"method":"echo","args":[],"kwargs":{"x":1,"text":"hello"}}""";
    private const string EvaluateBody = """{"method":"evaluate","args":[],"kwargs":{"task_id":1,"delay_ms":50}}""";
    private const string SidecarBody = """{"task_id":1}""";

    public sealed record LoadResult(string What, WrkResult Result);

    public sealed record StartResult(string What, double MedianMs, IReadOnlyList<double> RunsMs);

    /// <summary>A server's rate as a share of the floor's (the last server of its group): the median of the rounds' ratios.</summary>
    public sealed record FloorRatio(string What, double Median, IReadOnlyList<double> Rounds);

    public static async Task<int> RunAsync(string hostBinary, TimeSpan duration, string output)
    {
        Wrk.Require();
        var loadBefore = ClientBenchmark.LoadAverage();
        var benchDir = AppContext.BaseDirectory;
        var pythonEnv = Path.Combine(benchDir, "envs", "bench_env.py");
        var csharpEnv = Path.Combine(benchDir, "envs", "csharp-bench", "Actor.cs");
        var sidecarServer = Path.Combine(benchDir, "envs", "sidecar-arith", "server.py");
        var cache = Directory.CreateTempSubdirectory("affinetes-bench-cache-");
        var loads = new List<LoadResult>();
        var starts = new List<StartResult>();
        var ofFloor = new List<FloorRatio>();
        var idle = new List<IdleWakeups>();
        var overheads = new List<SidecarOverhead>();
        try
        {
            // A C# image runs the managed host itself (the native one would hand a C# actor over to it).
            var managedBinary = Path.Combine(Path.GetDirectoryName(hostBinary)!, "managed", "affinetes-host");
            ProcessStartInfo Host(int port, string envFile, string? cacheDirectory = null, string? sidecar = null, bool callLog = true, bool managed = false)
            {
                var start = new ProcessStartInfo(managed || envFile.EndsWith(".cs", StringComparison.Ordinal) ? managedBinary : hostBinary);
                start.Environment["AFFINETES_ENV_FILE"] = envFile;
                start.Environment["AFFINETES_BIND"] = "127.0.0.1";
                start.Environment["AFFINETES_PORT"] = port.ToString(CultureInfo.InvariantCulture);
                start.Environment["AFFINETES_CACHE_DIR"] = cacheDirectory ?? cache.FullName;
                start.Environment["PATH"] = "/usr/bin:" + Environment.GetEnvironmentVariable("PATH");
                if (!callLog)
                {
                    start.Environment["Logging__LogLevel__Default"] = "Warning"; // no "call echo 200" line per call
                }
                if (sidecar is not null)
                {
                    start.Environment["AFFINETES_SIDECAR_COMMAND"] = JsonSerializer.Serialize(new[] { "python3", sidecar });
                }
                return start;
            }

            // Fill the compile cache once, as an image build does.
            using (var compile = Process.Start(new ProcessStartInfo(managedBinary, ["--compile"])
            {
                Environment = { ["AFFINETES_ENV_FILE"] = csharpEnv, ["AFFINETES_CACHE_DIR"] = cache.FullName },
                RedirectStandardOutput = true,
            })!)
            {
                Console.WriteLine("   " + (await compile.StandardOutput.ReadToEndAsync()).Trim());
                await compile.WaitForExitAsync();
            }

            starts.Add(await ColdStartAsync("python host (bench env.py)", port => Host(port, pythonEnv)));
            starts.Add(await ColdStartAsync("C# host, actor in the compile cache", port => Host(port, csharpEnv)));
            starts.Add(await ColdStartAsync("C# host, no compile cache (Roslyn at start)", port => Host(port, csharpEnv,
                Path.Combine(cache.FullName, Guid.NewGuid().ToString("N")))));
            starts.Add(await ColdStartAsync("python on the managed host (what C# runs on)", port => Host(port, pythonEnv, managed: true)));

            var echo = await CompareAsync(
            [
                ("python: echo, 32 conn", port => Host(port, pythonEnv)),
                ("C#: echo, 32 conn", port => Host(port, csharpEnv)),
                ("C# without the per-call log line: echo, 32 conn", port => Host(port, csharpEnv, callLog: false)),
                ("bare Kestrel JSON endpoint: echo, 32 conn", BareKestrel),
            ], "/call", EchoBody, 32, duration, idle);
            // Each runtime against the floor of its own kind of wait: Python's asyncio.sleep on an asyncio loop, .NET's
            // Task.Delay on its timers (which tick in 4 ms steps here).
            var pythonEvaluate = await CompareAsync(
            [
                ("python: async evaluate 50 ms, 256 conn", port => Host(port, pythonEnv)),
                ("bare asyncio server awaiting the same asyncio.sleep: async evaluate 50 ms, 256 conn", AsyncioFloor),
            ], "/call", EvaluateBody, 256, duration, []);
            var evaluate = await CompareAsync(
            [
                ("C#: async evaluate 50 ms, 256 conn", port => Host(port, csharpEnv)),
                ("bare Kestrel awaiting the same Task.Delay: async evaluate 50 ms, 256 conn", BareKestrel),
            ], "/call", EvaluateBody, 256, duration, []);
            loads.AddRange(echo.Loads);
            loads.AddRange(pythonEvaluate.Loads);
            loads.AddRange(evaluate.Loads);
            ofFloor = [.. echo.OfFloor, .. pythonEvaluate.OfFloor, .. evaluate.OfFloor];
            foreach (var connections in new[] { 1, 32 })
            {
                var (sidecarLoads, overhead) = await SidecarOverheadAsync(connections, duration,
                    port => SidecarChild(port, sidecarServer), port => Host(port, pythonEnv, sidecar: sidecarServer));
                loads.AddRange(sidecarLoads);
                overheads.Add(overhead);
            }
        }
        finally
        {
            cache.Delete(recursive: true);
        }

        Console.WriteLine();
        Console.WriteLine("| load | calls/s | p50 ms | p99 ms | errors |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var l in loads)
        {
            Console.WriteLine($"| {l.What} | {l.Result.RequestsPerSecond:N0} | {l.Result.P50Ms:0.000} | {l.Result.P99Ms:0.00} | {l.Result.Errors} |");
        }
        Console.WriteLine();
        Console.WriteLine("| start | median ms (of 5) | runs |");
        Console.WriteLine("|---|---|---|");
        foreach (var s in starts)
        {
            Console.WriteLine($"| {s.What} | {s.MedianMs:0} | {string.Join(", ", s.RunsMs.Select(r => r.ToString("0", CultureInfo.InvariantCulture)))} |");
        }
        double Rate(string prefix) => loads.First(l => l.What.StartsWith(prefix, StringComparison.Ordinal)).Result.RequestsPerSecond;
        double OfFloor(string prefix) => ofFloor.First(r => r.What.StartsWith(prefix, StringComparison.Ordinal)).Median;
        Console.WriteLine();
        Console.WriteLine("| server | share of its floor's rate, median of the rounds | rounds |");
        Console.WriteLine("|---|---|---|");
        foreach (var r in ofFloor)
        {
            Console.WriteLine($"| {r.What} | {r.Median:P1} | {string.Join(", ", r.Rounds.Select(x => x.ToString("P0", CultureInfo.InvariantCulture)))} |");
        }
        Console.WriteLine();
        Console.WriteLine($"idle after their load, context switches per second: {string.Join("; ", idle.Select(i => $"{i.What.Split(':')[0]} {i.PerSecond:0}"))}");
        Console.WriteLine($"C# echo: {OfFloor("C#: echo"):P1} of the bare Kestrel endpoint (target >= 90%), {OfFloor("C# without"):P1} without the per-call log line; Python echo: {OfFloor("python: echo"):P1}");
        Console.WriteLine($"Python echo: {OfFloor("python: echo"):P1} of the bare Kestrel endpoint (target >= 80%)");
        Console.WriteLine($"Python async evaluate: {Rate("python: async") / 5120:P1} of 5,120 calls/s (target >= 92%), {OfFloor("python: async"):P1} of its floor " +
            $"(target >= 95%), a bare asyncio server awaiting the same asyncio.sleep(0.05): {Rate("bare asyncio") / 5120:P1} of 5,120");
        Console.WriteLine($"C# async evaluate: {Rate("C#: async") / 5120:P1} of 5,120 calls/s (target >= 95%). " +
            $"The floor, bare Kestrel awaiting the same Task.Delay(50): {Rate("bare Kestrel awaiting") / 5120:P1}; C# is {OfFloor("C#: async"):P1} of it");
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average (1 min) {loadBefore} before, {ClientBenchmark.LoadAverage()} after");
        var single = overheads.First(o => o.Connections == 1);
        var many = overheads.First(o => o.Connections > 1);
        Console.WriteLine($"sidecar forwarding overhead at 1 connection, p50 through the host minus p50 direct, median of {CompareRounds} rounds: " +
            $"{single.MedianUs:0} us (target <= 300 us; rounds {string.Join(", ", single.RoundsUs.Select(r => r.ToString("0", CultureInfo.InvariantCulture)))})");
        Console.WriteLine($"sidecar at {many.Connections} connections, where its Python server is saturated (a p50 there is queueing, not forwarding): " +
            $"{many.MedianRateShare:P1} of its direct rate through the host, p50 {many.MedianUs:0} us above direct");
        Console.WriteLine($"C# cold start with the compile cache: {starts[1].MedianMs:0} ms vs Python's on the same managed host {starts[3].MedianMs:0} ms " +
            $"(target: at most that); Python on the native host, as its images run it: {starts[0].MedianMs:0} ms");

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new
        {
            date = DateTime.UtcNow,
            machine = new { cores = Environment.ProcessorCount },
            duration_s = duration.TotalSeconds,
            loads,
            of_floor = ofFloor,
            idle_context_switches_per_s = idle,
            sidecar_overhead = overheads,
            starts,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"results written to {output}");
        return loads.Any(l => l.Result.Errors > 0) ? 1 : 0;
    }

    private static ProcessStartInfo BareKestrel(int port)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!);
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Affinetes.Bench.dll"));
        start.ArgumentList.Add("bare-kestrel");
        start.ArgumentList.Add("--port");
        start.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        start.Environment["DOTNET_gcServer"] = "0"; // the host's GC settings
        start.Environment["DOTNET_gcConcurrent"] = "0";
        return start;
    }

    /// <summary>The floor of the Python async workload: original/asyncio_floor.py under the interpreter the hosts embed.</summary>
    private static ProcessStartInfo AsyncioFloor(int port)
    {
        var start = new ProcessStartInfo("/usr/bin/python3", [Path.Combine(AppContext.BaseDirectory, "original", "asyncio_floor.py")]);
        start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        return start;
    }

    private static ProcessStartInfo SidecarChild(int port, string server)
    {
        var start = new ProcessStartInfo("/usr/bin/python3", [server]);
        start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        return start;
    }

    private static async Task<StartResult> ColdStartAsync(string what, Func<int, ProcessStartInfo> start)
    {
        var runs = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var port = ServerProcess.FreePort();
            await using var server = await ServerProcess.StartAsync(start(port), port, EchoBody);
            runs.Add(server.StartToFirstCall.TotalMilliseconds);
        }
        var median = MedianOf(runs);
        Console.WriteLine($"== {what}: cold start median {median:0} ms [{string.Join(", ", runs.Select(r => r.ToString("0", CultureInfo.InvariantCulture)))}]");
        return new StartResult(what, median, runs);
    }

    /// <summary>
    /// Servers whose rates are compared as ratios, the last one being the floor: all run at once (idle but the one
    /// under load), each warmed up for <see cref="Wrk.PublishedWarmup"/>, then measured in
    /// <see cref="CompareRounds"/> interleaved rounds (<see cref="Wrk.InterleavedAsync(int, IReadOnlyList{Func{Task{WrkResult}}})"/>).
    /// Each server's result is its median round; its share of the floor is the median of its rounds' ratios to the
    /// floor's round just after it (this machine's speed drifts by tens of percent between rounds, alike for all).
    /// </summary>
    private static async Task<(List<LoadResult> Loads, List<FloorRatio> OfFloor)> CompareAsync(
        IReadOnlyList<(string What, Func<int, ProcessStartInfo> Start)> servers, string path, string body, int connections, TimeSpan duration,
        List<IdleWakeups> idle)
    {
        var started = new List<(string What, ServerProcess Server)>();
        try
        {
            foreach (var (what, start) in servers)
            {
                var port = ServerProcess.FreePort();
                started.Add((what, await ServerProcess.StartAsync(start(port), port, body, path)));
            }
            var threads = Math.Min(2, connections);
            foreach (var (_, server) in started)
            {
                await Wrk.RunAsync(server.BaseUrl + path, body, connections, Wrk.PublishedWarmup, threads);
            }
            var round = RoundLength(duration);
            var results = await Wrk.InterleavedAsync(CompareRounds, [.. started.Select(s => (Func<Task<WrkResult>>)(() =>
                Wrk.RunAsync(s.Server.BaseUrl + path, body, connections, round, threads)))]);
            // After its load, a server idles while the others are measured: how often does it wake?
            await Task.Delay(TimeSpan.FromSeconds(2));
            var before = started.Select(s => s.Server.ContextSwitchesByThread()).ToList();
            await Task.Delay(IdleWindow);
            foreach (var ((what, server), i) in started.Select((s, i) => (s, i)))
            {
                idle.Add(new IdleWakeups(what, ServerProcess.ContextSwitchesBetween(before[i], server.ContextSwitchesByThread()) / IdleWindow.TotalSeconds));
            }
            var floor = results[^1];
            var loads = new List<LoadResult>();
            var ofFloor = new List<FloorRatio>();
            for (var i = 0; i < started.Count; i++)
            {
                var median = Wrk.Median(results[i], x => x.RequestsPerSecond);
                Console.WriteLine($"== {started[i].What}: {median} [rounds: {string.Join(", ", results[i].Select(x => x.RequestsPerSecond.ToString("N0", CultureInfo.InvariantCulture)))} calls/s]");
                loads.Add(new LoadResult(started[i].What, median));
                if (i < started.Count - 1)
                {
                    var ratios = results[i].Select((x, r) => x.RequestsPerSecond / floor[r].RequestsPerSecond).ToList();
                    ofFloor.Add(new FloorRatio(started[i].What, MedianOf(ratios), ratios));
                }
            }
            return (loads, ofFloor);
        }
        finally
        {
            foreach (var (_, server) in started)
            {
                await server.DisposeAsync();
            }
        }
    }

    private static readonly TimeSpan IdleWindow = TimeSpan.FromSeconds(3);

    /// <summary>Context switches per second of a server left idle after its load (an idle container's cost to its neighbours).</summary>
    public sealed record IdleWakeups(string What, double PerSecond);

    /// <summary>Rounds of a comparison: more than <see cref="Wrk.Rounds"/>, each shorter, as the ratios are what is read.</summary>
    private const int CompareRounds = 15;

    /// <summary>One round of a comparison: a fifth of the duration asked for, at least 2 s.</summary>
    private static TimeSpan RoundLength(TimeSpan duration) => TimeSpan.FromSeconds(Math.Max(2, duration.TotalSeconds * 0.2));

    private static double MedianOf(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>
    /// The sidecar's forwarding cost at <see cref="SidecarOverhead.Connections"/>: the p50 of each round through the
    /// host minus the p50 of the round just before it, direct; and the median of the rounds' rate ratios.
    /// </summary>
    public sealed record SidecarOverhead(int Connections, double MedianUs, IReadOnlyList<double> RoundsUs, double MedianRateShare);

    /// <summary>
    /// The sidecar's server called directly and through the host, both running, in <see cref="CompareRounds"/>
    /// interleaved rounds (a p50 drifts with this machine's speed as a rate does): the overhead is the median of the
    /// rounds' p50 differences.
    /// </summary>
    private static async Task<(List<LoadResult> Loads, SidecarOverhead Overhead)> SidecarOverheadAsync(int connections, TimeSpan duration,
        Func<int, ProcessStartInfo> child, Func<int, ProcessStartInfo> host)
    {
        var childPort = ServerProcess.FreePort();
        await using var direct = await ServerProcess.StartAsync(child(childPort), childPort, SidecarBody, "/generate", "/openapi.json");
        var hostPort = ServerProcess.FreePort();
        await using var fronted = await ServerProcess.StartAsync(host(hostPort), hostPort, SidecarBody, "/generate");
        var threads = Math.Min(2, connections);
        var round = RoundLength(duration);
        foreach (var server in new[] { direct, fronted })
        {
            await Wrk.RunAsync(server.BaseUrl + "/generate", SidecarBody, connections, Wrk.PublishedWarmup, threads); // JIT tiers, pools
        }
        var results = await Wrk.InterleavedAsync(CompareRounds, [
            () => Wrk.RunAsync(direct.BaseUrl + "/generate", SidecarBody, connections, round, threads),
            () => Wrk.RunAsync(fronted.BaseUrl + "/generate", SidecarBody, connections, round, threads),
        ]);
        var rounds = results[1].Select((r, i) => (r.P50Ms - results[0][i].P50Ms) * 1000).ToList();
        var shares = results[1].Select((r, i) => r.RequestsPerSecond / results[0][i].RequestsPerSecond);
        var overhead = new SidecarOverhead(connections, MedianOf(rounds), rounds, MedianOf(shares));
        var loads = new List<LoadResult>
        {
            new($"sidecar server called directly, {connections} conn", Wrk.Median(results[0], x => x.P50Ms)),
            new($"sidecar through the host, {connections} conn", Wrk.Median(results[1], x => x.P50Ms)),
        };
        foreach (var load in loads)
        {
            Console.WriteLine($"== {load.What}: {load.Result}");
        }
        return (loads, overhead);
    }
}
