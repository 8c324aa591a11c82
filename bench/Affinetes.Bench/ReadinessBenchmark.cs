using System.Diagnostics;
using System.Globalization;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient;
using Docker.DotNet.Models;
using Docker.DotNet;

namespace Affinetes.Bench;

/// <summary>
/// Time from <c>LoadEnvAsync</c> until 1 and N docker replicas are ready, with where the CPU went: the hosts' own
/// processes (read from /proc at ready) and the whole machine (/proc/stat: engine, kernel, client and hosts). The
/// engine's own share is shown by a floor run: the same containers with a trivial process instead of the host.
/// </summary>
public static class ReadinessBenchmark
{
    /// <summary>One configuration's runs, summarised by the median wall time.</summary>
    public sealed record ReadyResult(string What, int Replicas, double MedianMs, IReadOnlyList<double> RunsMs,
        double MedianHostCpuMs, double MedianMachineCpuMs, double MedianClientCpuMs);

    private static readonly TimeSpan LoadLimit = TimeSpan.FromMinutes(3);

    /// <summary>Measures 1 and <paramref name="replicas"/> replicas of <paramref name="image"/>, alternating, <paramref name="runs"/> times.</summary>
    public static async Task<List<ReadyResult>> MeasureAsync(string image, int replicas, int runs, bool hostNetwork = false)
    {
        var options = new EnvironmentOptions { Image = image, ReadyTimeout = TimeSpan.FromSeconds(90), Docker = new DockerOptions { HostNetwork = hostNetwork } };
        await TimeReadyAsync(options with { Replicas = 1 }); // unmeasured: the first start after a build reads the image from disk
        var results = new List<ReadyResult>();
        var samples = new Dictionary<int, List<Sample>> { [1] = [], [replicas] = [] };
        for (var run = 0; run < runs; run++)
        {
            foreach (var (count, list) in samples)
            {
                var sample = await TimeReadyAsync(options with { Replicas = count });
                list.Add(sample);
                Console.WriteLine($"   {count} replica(s): {sample.WallMs:0} ms, hosts {sample.HostCpuMs:0} ms CPU, client {sample.ClientCpuMs:0} ms CPU, machine {sample.MachineCpuMs:0} ms CPU");
            }
        }
        results.AddRange(samples.Select(s => Summarise(hostNetwork ? "actor host, host network" : "actor host", s.Key, s.Value)));

        Console.WriteLine($"== engine floor: the same image, a trivial process instead of the host, {(hostNetwork ? "host network" : "ports published on 127.0.0.1")}");
        using var docker = new Docker.DotNet.DockerClientBuilder().WithEndpoint(new Uri("unix:///var/run/docker.sock")).Build();
        var floor = new Dictionary<int, List<Sample>> { [1] = [], [replicas] = [] };
        for (var run = 0; run < runs; run++)
        {
            foreach (var (count, list) in floor)
            {
                var sample = await TimeTrivialContainersAsync(docker, image, count, hostNetwork);
                list.Add(sample);
                Console.WriteLine($"   {count} container(s): {sample.WallMs:0} ms, machine {sample.MachineCpuMs:0} ms CPU");
            }
        }
        results.AddRange(floor.Select(s => Summarise(hostNetwork ? "engine floor, host network" : "engine floor", s.Key, s.Value)));
        return results;
    }

    /// <summary>Prints the table and the ratio the issue asks about.</summary>
    public static void Print(IReadOnlyList<ReadyResult> results)
    {
        Console.WriteLine();
        Console.WriteLine("| what | replicas | ready in (median) | runs | hosts' CPU | client CPU | machine CPU |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            Console.WriteLine($"| {r.What} | {r.Replicas} | {r.MedianMs:0} ms | {string.Join(", ", r.RunsMs.Select(ms => ms.ToString("0", CultureInfo.InvariantCulture)))} | " +
                $"{(r.What.StartsWith("actor host", StringComparison.Ordinal) ? $"{r.MedianHostCpuMs:0} ms | {r.MedianClientCpuMs:0} ms" : "- | -")} | {r.MedianMachineCpuMs:0} ms |");
        }
        foreach (var group in results.GroupBy(r => r.What))
        {
            var one = group.Single(r => r.Replicas == 1);
            var many = group.Single(r => r.Replicas > 1);
            // Starts are CPU work (engine, kernel, hosts): with C cores nothing finishes before CPU spent / C.
            var cpuFloor = many.MedianMachineCpuMs / Environment.ProcessorCount;
            Console.WriteLine($"{group.Key}: {many.Replicas} replicas ready in {many.MedianMs / one.MedianMs:0.00}x the time of one (target <= 1.5x); " +
                $"they took {many.MedianMachineCpuMs:0} ms of CPU, at least {cpuFloor:0} ms on {Environment.ProcessorCount} cores ({many.MedianMs / cpuFloor:0.00}x that floor)");
        }
    }

    /// <summary>Writes the results as JSON with the machine they were measured on.</summary>
    public static async Task WriteAsync(IReadOnlyList<ReadyResult> results, string output)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, System.Text.Json.JsonSerializer.Serialize(new
        {
            date = DateTime.UtcNow,
            machine = new { cores = Environment.ProcessorCount },
            results,
        }, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"results written to {output}");
    }

    private sealed record Sample(double WallMs, double HostCpuMs, double MachineCpuMs, double ClientCpuMs = 0);

    private static ReadyResult Summarise(string what, int replicas, List<Sample> samples) =>
        new(what, replicas, Median(samples.Select(s => s.WallMs)), [.. samples.Select(s => s.WallMs)],
            Median(samples.Select(s => s.HostCpuMs)), Median(samples.Select(s => s.MachineCpuMs)), Median(samples.Select(s => s.ClientCpuMs)));

    private static async Task<Sample> TimeReadyAsync(EnvironmentOptions options)
    {
        using var loading = new CancellationTokenSource(LoadLimit);
        var machineBefore = MachineCpuMs();
        var clientBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var env = await AffinetesClient.LoadEnvAsync(options, loading.Token);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        var machine = MachineCpuMs() - machineBefore;
        var client = (Process.GetCurrentProcess().TotalProcessorTime - clientBefore).TotalMilliseconds;
        try
        {
            using var docker = new Docker.DotNet.DockerClientBuilder().WithEndpoint(new Uri("unix:///var/run/docker.sock")).Build();
            double hosts = 0;
            foreach (var replica in env.Replicas)
            {
                var inspected = await docker.Containers.InspectContainerAsync(replica.Id);
                hosts += ProcessCpuMs(inspected.State!.Pid);
            }
            return new Sample(elapsed, hosts, machine, client);
        }
        finally
        {
            await env.DisposeAsync(); // removes the containers before the next run
        }
    }

    /// <summary>What the engine alone costs: create and start <paramref name="count"/> containers running <c>sleep</c>, concurrently.</summary>
    private static async Task<Sample> TimeTrivialContainersAsync(DockerClient docker, string image, int count, bool hostNetwork)
    {
        var ids = new List<string>();
        var machineBefore = MachineCpuMs();
        var clock = Stopwatch.StartNew();
        try
        {
            await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
            {
                var created = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
                {
                    Image = image,
                    Entrypoint = ["sleep", "60"],
                    Labels = new Dictionary<string, string> { [ContainerLabels.Owner] = ContainerLabels.OwnerValue, [ContainerLabels.Image] = image },
                    ExposedPorts = new Dictionary<string, EmptyStruct> { [HostEnvironment.ContainerPort] = default },
                    HostConfig = hostNetwork
                        ? new HostConfig { NetworkMode = "host" }
                        : new HostConfig { PortBindings = new Dictionary<string, IList<PortBinding>> { [HostEnvironment.ContainerPort] = [new PortBinding { HostIP = "127.0.0.1" }] } },
                });
                lock (ids)
                {
                    ids.Add(created.ID);
                }
                await docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
                await docker.Containers.InspectContainerAsync(created.ID); // the client reads the published port the same way
            }));
            return new Sample(clock.Elapsed.TotalMilliseconds, 0, MachineCpuMs() - machineBefore);
        }
        finally
        {
            await Task.WhenAll(ids.Select(id => docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true })));
        }
    }

    /// <summary>Busy CPU time of the whole machine so far (all cores), from /proc/stat.</summary>
    private static double MachineCpuMs()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // cpu user nice system idle iowait irq softirq steal
        var busy = new[] { 1, 2, 3, 6, 7, 8 }.Sum(i => long.Parse(fields[i], CultureInfo.InvariantCulture));
        return busy * 1000.0 / ClockTicksPerSecond;
    }

    /// <summary>user + system CPU of one process so far, from /proc/PID/stat.</summary>
    private static double ProcessCpuMs(long pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is the state (field 3); utime and stime are fields 14 and 15
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 1000.0 / ClockTicksPerSecond;
    }

    private const double ClockTicksPerSecond = 100; // USER_HZ on Linux

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[sorted.Count / 2];
    }
}
