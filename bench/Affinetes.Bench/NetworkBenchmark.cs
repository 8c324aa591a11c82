using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Bench;

/// <summary>
/// What isolation costs: time until one replica is ready, and the p50 of a small call, for an open container (port
/// published on 127.0.0.1), an isolated one (no network; its host reached through a unix socket) and an isolated
/// one with the LLM gateway (the gateway started once per client, the environment registered, the relay listening).
/// </summary>
public static class NetworkBenchmark
{
    public sealed record NetworkResult(string What, double ReadyMedianMs, IReadOnlyList<double> ReadyRunsMs, double CallP50Ms, double CallP95Ms, double? FirstLoadMs);

    public static async Task<int> RunAsync(int runs, int calls, string output)
    {
        await using var image = await BenchImage.BuildAsync("python-bench");
        await using var upstream = await LocalLlmServer.StartAsync();
        var llm = new LlmAccessOptions { Upstream = upstream.BaseUrl.ToString(), KeyVariable = null };
        var configurations = new (string What, EnvironmentOptions Options)[]
        {
            ("open (port on 127.0.0.1)", new EnvironmentOptions { Image = image.Tag }),
            ("isolated (unix socket)", new EnvironmentOptions { Image = image.Tag, Docker = new DockerOptions { Network = ContainerNetwork.Isolated } }),
            ("isolated + LLM gateway", new EnvironmentOptions { Image = image.Tag, Docker = new DockerOptions { Network = ContainerNetwork.Isolated }, Llm = llm }),
        };
        var results = new List<NetworkResult>();
        foreach (var (what, options) in configurations)
        {
            Console.WriteLine($"== {what}");
            await using var client = AffinetesClient.Create();
            var first = Stopwatch.StartNew();
            await (await client.LoadEnvAsync(options)).DisposeAsync(); // the first start reads the image (and starts the gateway)
            var firstMs = first.Elapsed.TotalMilliseconds;
            var ready = new List<double>();
            var latencies = new List<double>();
            for (var run = 0; run < runs; run++)
            {
                var clock = Stopwatch.StartNew();
                await using var env = await client.LoadEnvAsync(options);
                ready.Add(clock.Elapsed.TotalMilliseconds);
                for (var i = 0; i < calls + 20; i++)
                {
                    var call = Stopwatch.StartNew();
                    await env.CallAsync("echo", kwargs: new Dictionary<string, object?> { ["x"] = i, ["text"] = "hi" });
                    if (i >= 20)
                    {
                        latencies.Add(call.Elapsed.TotalMilliseconds);
                    }
                }
                Console.WriteLine($"   ready in {ready[^1]:0} ms");
            }
            latencies.Sort();
            results.Add(new NetworkResult(what, Median(ready), ready, latencies[latencies.Count / 2], latencies[(int)(latencies.Count * 0.95)],
                options.Llm is null ? null : firstMs));
        }
        Console.WriteLine();
        Console.WriteLine($"| what | ready, 1 replica (median of {runs}) | echo call p50 / p95 ({calls} x {runs}, sequential) |");
        Console.WriteLine("|---|---|---|");
        foreach (var r in results)
        {
            Console.WriteLine($"| {r.What} | {r.ReadyMedianMs:0} ms | {r.CallP50Ms:0.00} / {r.CallP95Ms:0.00} ms |");
        }
        if (results.Last().FirstLoadMs is { } withGateway)
        {
            Console.WriteLine($"first environment with the gateway (starting it too): {withGateway:0} ms");
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new { measured = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture), cores = Environment.ProcessorCount, results },
            new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
