using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Affinetes.Afs.View;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;
using Microsoft.Extensions.Logging.Abstractions;

namespace Affinetes.Bench;

/// <summary>
/// <c>afs view</c> on a large store: a store of N results (one run of 20,000 tasks, the rest in runs of 1,000, each
/// result about a kilobyte of value like python-arith's, one in twenty failed) written with the store's own writer,
/// then the viewer's server on 127.0.0.1 asked for its pages over HTTP, each timed from request to last byte: the
/// index, the big run's page (task order, sorted by score on a later page, failed only), its live section, a task,
/// two runs compared. Median and p95 of the rounds; target: the index and the run page under 300 ms.
/// </summary>
public static class ViewBenchmark
{
    private const int BigRun = 20_000;
    private const int SmallRun = 1_000;
    private const double TargetMs = 300;

    /// <summary>One page: wall time per request (median, p95), and CpuMs, the CPU time of this process (server and client) per request: what the page costs, whatever else the machine does.</summary>
    public sealed record Measured(string Page, string Path, int Rounds, double MedianMs, double P95Ms, double CpuMs, long Bytes);

    public static async Task<int> RunAsync(int results, int rounds, string output)
    {
        var directory = Directory.CreateTempSubdirectory("affinetes-bench-view-").FullName;
        try
        {
            var path = Path.Combine(directory, "results.db");
            var clock = Stopwatch.StartNew();
            var (big, small) = await SeedAsync(path, results);
            var seeded = clock.Elapsed;
            var size = new FileInfo(path).Length + (File.Exists(path + "-wal") ? new FileInfo(path + "-wal").Length : 0);
            Console.WriteLine($"== store: {results:N0} results in {small.Count + 1} runs ({size / 1e6:0} MB), written in {seeded.TotalSeconds:0.0} s");

            await using var store = await ResultStore.OpenAsync(path);
            await using var app = new ResultsViewer(store, NullLogger.Instance).Build(IPAddress.Loopback, 0);
            await app.StartAsync();
            var address = app.Urls.First();
            using var client = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(60) };
            var pages = new (string Page, string Path)[]
            {
                ("index (100 newest of all runs)", "/"),
                ($"run page, {BigRun:N0} tasks", $"/runs/{big}"),
                ("run page, sorted by score, page 50", $"/runs/{big}?sort=score&dir=desc&page=50"),
                ("run page, failed tasks only", $"/runs/{big}?failed=1"),
                ("index, searched and filtered", "/?q=bench&status=completed&model=bench-model"),
                ("task page", $"/runs/{big}/tasks/12345"),
                ($"compare two runs of {SmallRun:N0} task by task", $"/compare?run={small[0]}&run={small[1]}"),
                ($"run CSV, {BigRun:N0} tasks", $"/runs/{big}.csv"),
            };
            var measured = new List<Measured>();
            foreach (var (page, pagePath) in pages)
            {
                for (var i = 0; i < 3; i++)
                {
                    await GetAsync(client, pagePath);
                }
                var times = new List<double>(rounds);
                long bytes = 0;
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                for (var i = 0; i < rounds; i++)
                {
                    var started = Stopwatch.GetTimestamp();
                    bytes = await GetAsync(client, pagePath);
                    times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                var cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / rounds;
                times.Sort();
                measured.Add(new Measured(page, pagePath, rounds, times[rounds / 2], times[Math.Min(rounds - 1, (int)Math.Ceiling(rounds * 0.95) - 1)], cpuMs, bytes));
                Console.WriteLine($"   {page}: median {measured[^1].MedianMs:0.0} ms");
            }
            await app.StopAsync();

            Console.WriteLine();
            Console.WriteLine($"{"page",-44} {"median ms",10} {"p95 ms",8} {"CPU ms",8} {"KB",8}");
            foreach (var m in measured)
            {
                Console.WriteLine($"{m.Page,-44} {m.MedianMs,10:0.0} {m.P95Ms,8:0.0} {m.CpuMs,8:0.0} {m.Bytes / 1024.0,8:0}");
            }
            var index = measured[0];
            var runPage = measured[1];
            var met = index.P95Ms < TargetMs && runPage.P95Ms < TargetMs;
            Console.WriteLine($"index p95 {index.P95Ms:0} ms, run page p95 {runPage.P95Ms:0} ms (target: under {TargetMs:0} ms): {(met ? "met" : "NOT met")}");
            Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average {LoadAverage()} (times on a busy machine are longer; the CPU column is what a page costs)");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new
            {
                date = DateTime.UtcNow,
                cores = Environment.ProcessorCount,
                results,
                store_bytes = size,
                seed_seconds = seeded.TotalSeconds,
                target_ms = TargetMs,
                load_average = LoadAverage(),
                measured,
            }, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"results written to {output}");
            return met ? 0 : 1;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static async Task<long> GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path, HttpCompletionOption.ResponseContentRead);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadAsByteArrayAsync()).LongLength;
    }

    /// <summary>The big run and the small ones, written as the runner writes them (its writer, batches of 1,024).</summary>
    private static async Task<(string Big, List<string> Small)> SeedAsync(string path, int results)
    {
        await using var opened = await ResultStore.OpenAsync(path);
        var store = opened;
        var random = new Random(26);
        var prompt = "Ada has 47 apples. A friend gives Ada 120 more apples. Ada buys 3 boxes holding 12 apples each. Ada gives away 30 apples. How many apples does Ada have now? ";
        var reply = string.Concat(Enumerable.Repeat("Let me work through it step by step. ", 16)) + "Answer: 173";
        var small = new List<string>();
        string Write(string id, int tasks)
        {
            store.CreateRun(new NewRun(id, new EvaluationRequest
            {
                TaskIds = [],
                Environment = "bench/python-arith:dev",
                ImageDigest = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(id))),
                Label = "bench " + id,
            }, """{"model":"bench-model"}"""), [.. Enumerable.Range(1, tasks).Select(i => (long)i)]);
            using var writer = store.OpenWriter(id);
            var batch = new List<TaskResult>(1024);
            for (var task = 1; task <= tasks; task++)
            {
                var failed = random.Next(20) == 0;
                var score = random.NextDouble() < 0.6 ? 1.0 : 0.0;
                batch.Add(new TaskResult
                {
                    TaskId = task,
                    Score = failed ? 0 : score,
                    Success = !failed && score > 0,
                    ErrorKind = failed ? TaskErrorKind.ActorError : TaskErrorKind.None,
                    Error = failed ? "evaluate raised ValueError: the model's answer could not be read" : null,
                    Value = failed ? null : JsonSerializer.SerializeToElement(new { task_id = task, score, success = score > 0, prompt, reply, expected = 173, model = "bench-model" }),
                    Attempts = 1,
                    StartedAt = DateTimeOffset.UtcNow.AddSeconds(-tasks + task),
                    Duration = TimeSpan.FromMilliseconds(200 + (random.NextDouble() * 3000)),
                });
                if (batch.Count == 1024 || task == tasks)
                {
                    writer.Write(batch);
                    batch.Clear();
                }
            }
            store.FinishRun(id);
            return id;
        }
        var big = Write("20261201-100000-b1g0", BigRun);
        for (var i = 0; BigRun + ((i + 1) * SmallRun) <= results; i++)
        {
            small.Add(Write(string.Create(CultureInfo.InvariantCulture, $"20261201-{110000 + i:D6}-{i:x4}"), SmallRun));
        }
        return (big, small);
    }
}
