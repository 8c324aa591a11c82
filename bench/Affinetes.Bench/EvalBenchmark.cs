using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Bench;

/// <summary>
/// The evaluation runner: (1) its own overhead, N tasks of <c>echo</c> in url mode through the runner with the
/// results store and a progress display on, against raw client calls at the same concurrency in the same process
/// and against the same host, rounds alternating; (2) the store alone, results written per second in the runner's
/// batches; (3) 2,000 tasks of the 50 ms <c>evaluate</c> over 2 docker replicas, wall time against the ideal.
/// </summary>
public static class EvalBenchmark
{
    private const int Rounds = 5;
    private const int Warmup = 5000;
    private const int StoreResults = 200_000;
    private const int StoreBatch = 1024;
    private const int DockerTasks = 2000;
    private const int DockerReplicas = 2;
    private const int DockerDelayMs = 50;
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(3);

    public sealed record Measured(string What, int Tasks, int Concurrency, double Seconds, double PerSecond, double CpuUsPerTask, long Failed);

    public static async Task<int> RunAsync(string hostBinary, int tasks, int concurrency, bool withDocker, string output)
    {
        var measured = new List<Measured>();
        var directory = Directory.CreateTempSubdirectory("affinetes-bench-eval-").FullName;
        try
        {
            await MeasureOverheadAsync(hostBinary, tasks, concurrency, Path.Combine(directory, "overhead.db"), measured);
            measured.Add(await MeasureStoreAsync(Path.Combine(directory, "store.db")));
            if (withDocker)
            {
                measured.Add(await MeasureDockerAsync(concurrency, Path.Combine(directory, "docker.db")));
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }

        var raw = measured.First(m => m.What == "raw client calls");
        var runner = measured.First(m => m.What == "runner + store + progress");
        var overhead = raw.PerSecond / runner.PerSecond - 1;
        Console.WriteLine();
        Console.WriteLine($"{"what",-34} {"tasks",8} {"in flight",9} {"seconds",8} {"per second",11} {"CPU us/task",11} {"failed",6}");
        foreach (var m in measured)
        {
            Console.WriteLine($"{m.What,-34} {m.Tasks,8:N0} {m.Concurrency,9} {m.Seconds,8:0.000} {m.PerSecond,11:N0} {m.CpuUsPerTask,11:0.0} {m.Failed,6}");
        }
        Console.WriteLine($"runner overhead: {overhead:+0.0%;-0.0%} time against raw calls (target: at most +10%)");
        var docker = measured.FirstOrDefault(m => m.What.StartsWith("docker", StringComparison.Ordinal));
        double? ideal = null;
        if (docker is not null)
        {
            ideal = DockerTasks * DockerDelayMs / 1000.0 / concurrency;
            Console.WriteLine($"docker: {docker.Seconds:0.000} s for {DockerTasks:N0} tasks of {DockerDelayMs} ms at {concurrency}; ideal {ideal:0.000} s; ratio {docker.Seconds / ideal:0.00}");
        }
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new
        {
            date = DateTime.UtcNow,
            cores = Environment.ProcessorCount,
            rounds = Rounds,
            measured,
            runner_overhead = overhead,
            docker_ideal_seconds = ideal,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"results written to {output}");
        return measured.Any(m => m.Failed > 0) ? 1 : 0;
    }

    /// <summary>Rounds of raw calls and runner runs, alternating which goes first; the median round of each.</summary>
    private static async Task MeasureOverheadAsync(string hostBinary, int tasks, int concurrency, string storePath, List<Measured> measured)
    {
        Console.WriteLine($"== url mode: {tasks:N0} tasks of echo at {concurrency} in flight, raw client calls vs the runner (store and progress on)");
        var port = ServerProcess.FreePort();
        var start = new ProcessStartInfo(hostBinary);
        start.Environment["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "envs", "bench_env.py");
        start.Environment["AFFINETES_BIND"] = "127.0.0.1";
        start.Environment["AFFINETES_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        await using var host = await ServerProcess.StartAsync(start, port, """{"method":"echo","args":[],"kwargs":{"x":1,"text":"hello"}}""");
        await using var env = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [host.BaseUrl] });
        await using var store = await ResultStore.OpenAsync(storePath);
        var runner = EvaluationRunner.Create(env, store);
        var storeless = EvaluationRunner.Create(env);

        await RawAsync(env, Warmup, concurrency);
        await RunnerAsync(runner, Warmup, concurrency, "");
        await RunnerAsync(storeless, Warmup, concurrency, "");
        var raw = new List<Measured>();
        var ran = new List<Measured>();
        var ranWithoutStore = new List<Measured>();
        for (var round = 0; round < Rounds; round++)
        {
            // Each kind goes first in turn, so a burst of other work on the machine does not always hit the same one.
            var order = new Func<Task>[]
            {
                async () => raw.Add(await RawAsync(env, tasks, concurrency)),
                async () => ran.Add(await RunnerAsync(runner, tasks, concurrency, "runner + store + progress")),
                async () => ranWithoutStore.Add(await RunnerAsync(storeless, tasks, concurrency, "runner + progress, no store")),
            };
            for (var i = 0; i < order.Length; i++)
            {
                await order[(i + round) % order.Length]();
            }
            Console.WriteLine($"   round {round + 1}: raw {raw[^1].PerSecond:N0}/s, runner {ran[^1].PerSecond:N0}/s, runner without store {ranWithoutStore[^1].PerSecond:N0}/s");
        }
        measured.Add(Median(raw));
        measured.Add(Median(ran));
        measured.Add(Median(ranWithoutStore));
    }

    private static Measured Median(List<Measured> rounds) => rounds.OrderBy(m => m.PerSecond).ElementAt(rounds.Count / 2);

    private static async Task<Measured> RawAsync(IEnvironment env, int tasks, int concurrency)
    {
        using var limit = new CancellationTokenSource(RunLimit);
        var next = -1;
        long failed = 0;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < tasks)
            {
                try
                {
                    await env.CallAsync("echo", kwargs: new Dictionary<string, object?> { ["x"] = i, ["text"] = "hello" }, cancellationToken: limit.Token);
                }
                catch (AffinetesException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        })));
        clock.Stop();
        return Result("raw client calls", tasks, concurrency, clock.Elapsed, Process.GetCurrentProcess().TotalProcessorTime - cpu, failed);
    }

    private static async Task<Measured> RunnerAsync(IEvaluationRunner runner, int tasks, int concurrency, string what)
    {
        using var limit = new CancellationTokenSource(RunLimit);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var run = await runner.StartAsync(new EvaluationRequest
        {
            Method = "echo",
            TaskIds = [.. Enumerable.Range(0, tasks).Select(i => (long)i)],
            TaskIdParameter = "x",
            Kwargs = new Dictionary<string, object?> { ["text"] = "hello" },
            Concurrency = concurrency,
        }, limit.Token);
        using var rendering = new CancellationTokenSource();
        var progress = RenderProgressAsync(run, rendering.Token);
        long failed = 0;
        await foreach (var result in run.ResultsAsync(limit.Token))
        {
            if (!result.Completed)
            {
                failed++;
            }
        }
        clock.Stop();
        await rendering.CancelAsync();
        await progress;
        return Result(what, tasks, concurrency, clock.Elapsed, Process.GetCurrentProcess().TotalProcessorTime - cpu, failed);
    }

    /// <summary>What a progress display does: a line from the run's counters ten times a second.</summary>
    private static async Task RenderProgressAsync(IEvaluationRun run, CancellationToken cancellationToken)
    {
        var visible = !Console.IsErrorRedirected;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var p = run.Progress;
                var line = $"\r   {p.Done:N0}/{p.Total:N0} done, {p.Failed} failed, {p.InFlight} in flight, {p.Rate:N0}/s, ETA {p.Eta?.TotalSeconds ?? 0:0.0} s   ";
                if (visible)
                {
                    Console.Error.Write(line);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        if (visible)
        {
            Console.Error.Write("\r" + new string(' ', 90) + "\r");
        }
    }

    /// <summary>The store alone: the runner's writer with batches of <see cref="StoreBatch"/>, results like a real evaluate's.</summary>
    private static async Task<Measured> MeasureStoreAsync(string path)
    {
        Console.WriteLine($"== store alone: {StoreResults:N0} results in batches of {StoreBatch:N0}");
        await using var store = await ResultStore.OpenAsync(path);
        var sqlite = store;
        var tasks = Enumerable.Range(1, StoreResults).Select(i => (long)i).ToList();
        sqlite.CreateRun(new NewRun("bench", new EvaluationRequest { TaskIds = tasks, ImageDigest = "sha256:bench" }, """{"model":"m"}"""), tasks);
        var results = tasks.Select(t => new TaskResult
        {
            TaskId = t,
            Score = t % 2,
            Success = true,
            Value = JsonSerializer.SerializeToElement(new { task_id = t, score = t % 2, success = true, model = "deepseek-ai/DeepSeek-V3", latency_ms = 812 }),
            Attempts = 1,
            StartedAt = DateTimeOffset.UtcNow,
            Duration = TimeSpan.FromMilliseconds(812.5),
        }).ToList();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        using (var writer = sqlite.OpenWriter("bench"))
        {
            foreach (var batch in results.Chunk(StoreBatch))
            {
                writer.Write(batch);
            }
        }
        clock.Stop();
        return Result("store alone", StoreResults, 1, clock.Elapsed, Process.GetCurrentProcess().TotalProcessorTime - cpu, 0);
    }

    private static async Task<Measured> MeasureDockerAsync(int concurrency, string storePath)
    {
        await using var image = await BenchImage.BuildAsync("python-bench");
        Console.WriteLine($"== docker: {DockerTasks:N0} tasks of evaluate ({DockerDelayMs} ms) at {concurrency} over {DockerReplicas} replicas");
        using var loading = new CancellationTokenSource(RunLimit);
        await using var env = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions
        {
            Image = image.Tag,
            Replicas = DockerReplicas,
            ReadyTimeout = TimeSpan.FromSeconds(90),
        }, loading.Token);
        await using var store = await ResultStore.OpenAsync(storePath);
        var runner = EvaluationRunner.Create(env, store);
        var request = new EvaluationRequest
        {
            TaskIds = [.. Enumerable.Range(1, DockerTasks).Select(i => (long)i)],
            Kwargs = new Dictionary<string, object?> { ["delay_ms"] = DockerDelayMs },
            Concurrency = concurrency,
        };
        // Warm-up (JIT, connections): a tenth of the tasks, not served from the cache since no digest is given.
        await foreach (var _ in (await runner.StartAsync(request with { TaskIds = request.TaskIds.Take(DockerTasks / 10).ToList() })).ResultsAsync(loading.Token))
        {
        }
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        long failed = 0;
        await foreach (var result in (await runner.StartAsync(request)).ResultsAsync(loading.Token))
        {
            failed += result.Completed ? 0 : 1;
        }
        clock.Stop();
        Console.WriteLine($"   calls per replica: {string.Join(", ", env.GetStats().Select(s => s.Requests.ToString("N0", CultureInfo.InvariantCulture)))}");
        return Result($"docker x{DockerReplicas}, evaluate {DockerDelayMs} ms", DockerTasks, concurrency, clock.Elapsed, Process.GetCurrentProcess().TotalProcessorTime - cpu, failed);
    }

    private static Measured Result(string what, int tasks, int concurrency, TimeSpan elapsed, TimeSpan cpu, long failed) =>
        new(what, tasks, concurrency, elapsed.TotalSeconds, tasks / elapsed.TotalSeconds, cpu.TotalMicroseconds / tasks, failed);
}
