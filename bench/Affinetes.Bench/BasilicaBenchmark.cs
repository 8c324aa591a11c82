using System.Diagnostics;
using System.Text.Json;
using Affinetes.Testing.Basilica;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Bench;

/// <summary>
/// Basilica mode through the local contract server vs Docker mode: the same tasks of the 50 ms workload over 2
/// replicas at the same concurrency, from load to release (provisioning included, as a validator pays it), and the
/// Basilica API requests per task (the original makes at least 3 per task: create, status, delete).
/// </summary>
internal static class BasilicaBenchmark
{
    public static async Task<int> RunAsync(int tasks, int concurrency, string output)
    {
        await using var image = await BenchImage.BuildAsync("python-bench");
        await using var server = await BasilicaContractServer.StartAsync();
        var docker = await MeasureAsync(new EnvironmentOptions { Image = image.Tag, Replicas = 2 }, tasks, concurrency);
        var basilica = await MeasureAsync(new EnvironmentOptions
        {
            Mode = EnvironmentMode.Basilica,
            Image = image.Tag,
            Replicas = 2,
            Basilica = new BasilicaOptions { ApiUrl = server.Url, Token = server.Token },
        }, tasks, concurrency);
        await server.AssertAllDeletedAsync();
        var requests = server.Requests.Count;
        var results = new
        {
            tasks,
            concurrency,
            replicas = 2,
            docker_total_s = docker.Total.TotalSeconds,
            docker_calls_s = docker.Calls.TotalSeconds,
            basilica_total_s = basilica.Total.TotalSeconds,
            basilica_calls_s = basilica.Calls.TotalSeconds,
            calls_ratio = basilica.Calls / docker.Calls,
            total_ratio = basilica.Total / docker.Total,
            basilica_api_requests = requests,
            basilica_api_requests_per_task = (double)requests / tasks,
            basilica_api_requests_by_kind = server.Requests.GroupBy(r => r.Split(' ')[0] + " " + (r.Count(c => c == '/') > 1 ? "/deployments/{name}" : r.Split(' ')[1]))
                .ToDictionary(g => g.Key, g => g.Count()),
        };
        Console.WriteLine($"{"mode",-10} {"load+calls+release s",22} {"calls s",10}");
        Console.WriteLine($"{"docker",-10} {docker.Total.TotalSeconds,22:0.00} {docker.Calls.TotalSeconds,10:0.00}");
        Console.WriteLine($"{"basilica",-10} {basilica.Total.TotalSeconds,22:0.00} {basilica.Calls.TotalSeconds,10:0.00}");
        Console.WriteLine($"ratio basilica/docker: calls {results.calls_ratio:0.00}x (target <= 1.2x), whole run {results.total_ratio:0.00}x");
        Console.WriteLine($"basilica API requests: {requests} for {tasks} tasks = {results.basilica_api_requests_per_task:0.000} per task (the original: >= 3)");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static async Task<(TimeSpan Total, TimeSpan Calls)> MeasureAsync(EnvironmentOptions options, int tasks, int concurrency)
    {
        var total = Stopwatch.StartNew();
        TimeSpan calls;
        await using (var env = await AffinetesClient.LoadEnvAsync(options))
        {
            var clock = Stopwatch.StartNew();
            await Parallel.ForAsync(0, tasks, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (task, ct) =>
                await env.CallAsync("evaluate", kwargs: new Dictionary<string, object?> { ["task_id"] = task, ["delay_ms"] = 50 }, timeout: TimeSpan.FromSeconds(60), cancellationToken: ct));
            calls = clock.Elapsed;
        }
        return (total.Elapsed, calls);
    }
}
