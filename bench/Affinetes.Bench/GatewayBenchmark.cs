using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.Testing;

namespace Affinetes.Bench;

/// <summary>
/// What the LLM gateway adds to a request: wrk at N connections straight to the local OpenAI-compatible upstream
/// (<see cref="LocalLlmServer"/>, in this process), then the same through the published gateway; the added p50 is the
/// difference, and the gateway process's CPU per request is read from /proc. Measured with an upstream that answers at
/// once (the worst case for the gateway's share, all on this machine's cores) and one that takes 50 ms like a model.
/// </summary>
public static class GatewayBenchmark
{
    private const string Body = """{"model":"local-test-model","messages":[{"role":"user","content":"What is 2+2? Answer with one word."}],"max_tokens":16}""";

    public sealed record GatewayResult(string Upstream, bool RequestLog, int Connections, WrkResult Direct, WrkResult ThroughGateway,
        double AddedP50Ms, double GatewayCpuUsPerRequest);

    public static async Task<int> RunAsync(string gatewayBinary, TimeSpan duration, int connections, string output)
    {
        Wrk.Require();
        var results = new List<GatewayResult>();
        var loadBefore = ClientBenchmark.LoadAverage();
        foreach (var (delayMs, requestLog) in new[] { (0, false), (0, true), (50, false) })
        {
            results.Add(await MeasureAsync(gatewayBinary, TimeSpan.FromMilliseconds(delayMs), requestLog, duration, connections));
        }

        Console.WriteLine();
        Console.WriteLine("| upstream | request log | conn | direct calls/s, p50 ms | through gateway calls/s, p50 ms | added p50 ms | gateway CPU us/request |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            Console.WriteLine($"| {r.Upstream} | {(r.RequestLog ? "on" : "off")} | {r.Connections} | {r.Direct.RequestsPerSecond:N0}, {r.Direct.P50Ms:0.00} | " +
                $"{r.ThroughGateway.RequestsPerSecond:N0}, {r.ThroughGateway.P50Ms:0.00} | {r.AddedP50Ms:0.00} | {r.GatewayCpuUsPerRequest:0} |");
        }
        var loadAfter = ClientBenchmark.LoadAverage();
        // wrk, the upstream and the gateway share this machine's cores: a load average above the core count means other work competed.
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average (1 min) {loadBefore} before, {loadAfter} after");
        var modelLike = results.Last();
        Console.WriteLine();
        Console.WriteLine($"added p50 at {connections} concurrent requests, upstream taking 50 ms: {modelLike.AddedP50Ms:0.00} ms (target <= 1 ms); " +
            $"gateway CPU {modelLike.GatewayCpuUsPerRequest:0} us per request");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new
        {
            date = DateTime.UtcNow,
            machine = new { cores = Environment.ProcessorCount, load_average_before = loadBefore, load_average_after = loadAfter },
            duration_s = duration.TotalSeconds,
            results,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"results written to {output}");
        return results.Any(r => r.Direct.Errors > 0 || r.ThroughGateway.Errors > 0) ? 1 : 0;
    }

    private static async Task<GatewayResult> MeasureAsync(string gatewayBinary, TimeSpan upstreamDelay, bool requestLog, TimeSpan duration, int connections)
    {
        var upstreamName = upstreamDelay == TimeSpan.Zero ? "answers at once" : $"takes {upstreamDelay.TotalMilliseconds:0} ms";
        Console.WriteLine($"== upstream {upstreamName}, gateway request log {(requestLog ? "on" : "off")}");
        await using var upstream = await LocalLlmServer.StartAsync(_ => LlmReply.Text("Four.") with { Delay = upstreamDelay });
        await using var gateway = await GatewayProcess.StartAsync(gatewayBinary, upstream.BaseUrl, requestLog);
        var token = await gateway.RegisterAsync();
        var headers = new Dictionary<string, string> { ["Authorization"] = "Bearer " + token };
        var directUrl = upstream.BaseUrl + "/chat/completions";
        var gatewayUrl = gateway.ApiAddress + "v1/chat/completions";

        await Wrk.RunAsync(directUrl, Body, connections, Wrk.PublishedWarmup, headers: headers);
        await Wrk.RunAsync(gatewayUrl, Body, connections, Wrk.PublishedWarmup, headers: headers); // JIT tiers, connection pools
        // Direct and through the gateway in interleaved rounds, so that a slow spell of this shared machine hits both
        // alike; each is its median round, and the gateway's CPU is counted over all of its rounds.
        var round = TimeSpan.FromSeconds(Math.Max(2, duration.TotalSeconds / 2));
        var cpu = TimeSpan.Zero;
        var runs = await Wrk.InterleavedAsync(
            () => Wrk.RunAsync(directUrl, Body, connections, round, headers: headers),
            async () =>
            {
                var cpuBefore = gateway.CpuTime;
                var run = await Wrk.RunAsync(gatewayUrl, Body, connections, round, headers: headers);
                cpu += gateway.CpuTime - cpuBefore;
                return run;
            });
        var (directRounds, throughRounds) = (runs[0], runs[1]);
        var direct = Wrk.Median(directRounds, x => x.P50Ms);
        var through = Wrk.Median(throughRounds, x => x.P50Ms);
        var cpuUs = cpu.TotalMicroseconds / Math.Max(1, throughRounds.Sum(x => x.Requests));
        Console.WriteLine($"   direct          {direct} [p50 rounds: {string.Join(", ", directRounds.Select(x => x.P50Ms.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)))} ms]");
        Console.WriteLine($"   through gateway {through}  gateway CPU {cpuUs:0} us/request [p50 rounds: {string.Join(", ", throughRounds.Select(x => x.P50Ms.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)))} ms]");
        return new GatewayResult(upstreamName, requestLog, connections, direct, through, through.P50Ms - direct.P50Ms, cpuUs);
    }

    /// <summary>The published gateway as its own process: started, asked where it listens (its ready line), stopped.</summary>
    private sealed class GatewayProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _errors = new();

        private GatewayProcess(Process process) => _process = process;

        public Uri ApiAddress { get; private set; } = null!;
        private Uri AdminAddress { get; set; } = null!;

        public TimeSpan CpuTime
        {
            get
            {
                _process.Refresh();
                return _process.TotalProcessorTime;
            }
        }

        public static async Task<GatewayProcess> StartAsync(string binary, Uri upstream, bool requestLog)
        {
            var start = new ProcessStartInfo(binary)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { "--upstream", upstream.ToString(), "--upstream-key-env", "BENCH_UPSTREAM_KEY", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0" })
            {
                start.ArgumentList.Add(arg);
            }
            start.Environment["BENCH_UPSTREAM_KEY"] = "sk-bench-upstream-key";
            if (requestLog)
            {
                start.ArgumentList.Add("--log-requests");
            }
            var gateway = new GatewayProcess(Process.Start(start)!);
            gateway._process.ErrorDataReceived += (_, e) =>
            {
                lock (gateway._errors)
                {
                    if (gateway._errors.Length < 64 * 1024)
                    {
                        gateway._errors.AppendLine(e.Data);
                    }
                }
            };
            gateway._process.BeginErrorReadLine();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var ready = await gateway._process.StandardOutput.ReadLineAsync(limit.Token)
                ?? throw new InvalidOperationException($"the gateway exited before it listened:\n{gateway._errors}");
            using var json = JsonDocument.Parse(ready);
            gateway.ApiAddress = new Uri(json.RootElement.GetProperty("api")[0].GetString()! + "/");
            gateway.AdminAddress = new Uri(json.RootElement.GetProperty("admin")[0].GetString()! + "/");
            return gateway;
        }

        public async Task<string> RegisterAsync()
        {
            using var admin = new HttpClient { BaseAddress = AdminAddress, Timeout = TimeSpan.FromSeconds(10) };
            using var response = await admin.PostAsJsonAsync(GatewayRoutes.Tenants.TrimStart('/'), new GatewayTenant { Name = "bench" }, GatewayJson.Default.GatewayTenant);
            response.EnsureSuccessStatusCode();
            return (await response.Content.ReadFromJsonAsync(GatewayJson.Default.GatewayTenantCreated))!.Token;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }
    }
}
