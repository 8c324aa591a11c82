using System.CommandLine;
using Affinetes.Bench;

var root = new RootCommand("Affinetes benchmarks. Run through scripts/bench.sh, which installs wrk and publishes the host.");

var hostBinary = new Option<string>("--host-binary") { Description = "the published affinetes-host", Required = true };
var duration = new Option<int>("--duration") { Description = "seconds of each measured load run", DefaultValueFactory = _ => 10 };
var noOriginal = new Option<bool>("--no-original") { Description = "skip the Python original's baseline" };
var output = new Option<string>("--output") { Description = "JSON results file", DefaultValueFactory = _ => "artifacts/bench/host.json" };
var host = new Command("host", "ActorHost vs the original: sync echo at 32 connections, async evaluate at 256, cold start.")
{
    hostBinary, duration, noOriginal, output,
};
host.SetAction((result, _) => HostBenchmark.RunAsync(
    result.GetValue(hostBinary)!, TimeSpan.FromSeconds(result.GetValue(duration)), !result.GetValue(noOriginal), result.GetValue(output)!));
root.Subcommands.Add(host);

var runtimesOutput = new Option<string>("--output") { Description = "JSON results file", DefaultValueFactory = _ => "artifacts/bench/runtimes.json" };
var runtimes = new Command("runtimes", "Python, C# and sidecar runtimes side by side: echo at 32 connections beside a bare Kestrel endpoint, async evaluate at 256, cold starts, sidecar forwarding overhead.")
{
    hostBinary, duration, runtimesOutput,
};
runtimes.SetAction((result, _) => RuntimesBenchmark.RunAsync(result.GetValue(hostBinary)!, TimeSpan.FromSeconds(result.GetValue(duration)), result.GetValue(runtimesOutput)!));
root.Subcommands.Add(runtimes);

var barePort = new Option<int>("--port") { Description = "port on 127.0.0.1", Required = true };
var bare = new Command("bare-kestrel", "The floor endpoint of the runtimes benchmark (started by it).") { barePort };
bare.SetAction((result, _) => BareKestrel.RunAsync(result.GetValue(barePort)));
root.Subcommands.Add(bare);

var calls = new Option<int>("--calls") { Description = "calls per measured run", DefaultValueFactory = _ => 20000 };
var noDocker = new Option<bool>("--no-docker") { Description = "skip docker mode (the evaluate pool and the readiness times)" };
var clientOutput = new Option<string>("--output") { Description = "JSON results file", DefaultValueFactory = _ => "artifacts/bench/client.json" };
var client = new Command("client", "AffinetesClient vs the original's client: echo at 32 and 256 in flight (url mode), evaluate over 4 docker replicas, time to ready.")
{
    hostBinary, calls, noOriginal, noDocker, clientOutput,
};
client.SetAction((result, _) => ClientBenchmark.RunAsync(
    result.GetValue(hostBinary)!, result.GetValue(calls), !result.GetValue(noOriginal), !result.GetValue(noDocker), result.GetValue(clientOutput)!));
root.Subcommands.Add(client);

var replicas = new Option<int>("--replicas") { Description = "replicas to compare with one", DefaultValueFactory = _ => 4 };
var runs = new Option<int>("--runs") { Description = "runs of each configuration (the median is reported)", DefaultValueFactory = _ => 5 };
var readyOutput = new Option<string>("--output") { Description = "JSON results file", DefaultValueFactory = _ => "artifacts/bench/ready.json" };
var hostNetwork = new Option<bool>("--host-network") { Description = "also measure replicas on the host's network (no network namespace per container)" };
var ready = new Command("ready", "Docker mode: time until 1 and N replicas are ready, with the CPU the hosts and the machine spent, and the engine's floor.")
{
    replicas, runs, hostNetwork, readyOutput,
};
ready.SetAction(async (result, _) =>
{
    await using var image = await BenchImage.BuildAsync("python-bench");
    var results = await ReadinessBenchmark.MeasureAsync(image.Tag, result.GetValue(replicas), result.GetValue(runs));
    if (result.GetValue(hostNetwork))
    {
        results.AddRange(await ReadinessBenchmark.MeasureAsync(image.Tag, result.GetValue(replicas), result.GetValue(runs), hostNetwork: true));
    }
    ReadinessBenchmark.Print(results);
    await ReadinessBenchmark.WriteAsync(results, result.GetValue(readyOutput)!);
    return 0;
});
root.Subcommands.Add(ready);

var gatewayBinary = new Option<string>("--gateway-binary") { Description = "the published affinetes-llm-gateway", Required = true };
var connections = new Option<int>("--connections") { Description = "concurrent requests", DefaultValueFactory = _ => 64 };
var gatewayOutput = new Option<string>("--output") { Description = "JSON results file", DefaultValueFactory = _ => "artifacts/bench/gateway.json" };
var gateway = new Command("gateway", "LLM gateway: p50 latency it adds at 64 concurrent requests against a local OpenAI-compatible upstream, and its CPU per request.")
{
    gatewayBinary, duration, connections, gatewayOutput,
};
gateway.SetAction((result, _) => GatewayBenchmark.RunAsync(
    result.GetValue(gatewayBinary)!, TimeSpan.FromSeconds(result.GetValue(duration)), result.GetValue(connections), result.GetValue(gatewayOutput)!));
root.Subcommands.Add(gateway);

var networkRuns = new Option<int>("--runs") { Description = "replicas started per configuration (the median is reported)", DefaultValueFactory = _ => 5 };
var networkCalls = new Option<int>("--calls") { Description = "echo calls per started replica", DefaultValueFactory = _ => 300 };
var networkOutput = new Option<string>("--output") { Description = "JSON results file", DefaultValueFactory = _ => "artifacts/bench/network.json" };
var network = new Command("network", "Docker mode: time to ready and call latency of an open container, an isolated one (unix socket), and an isolated one with the LLM gateway.")
{
    networkRuns, networkCalls, networkOutput,
};
network.SetAction((result, _) => NetworkBenchmark.RunAsync(result.GetValue(networkRuns), result.GetValue(networkCalls), result.GetValue(networkOutput)!));
root.Subcommands.Add(network);
var tasks = new Option<int>("--tasks") { Description = "tasks of echo per measured run", DefaultValueFactory = _ => 20_000 };
var concurrency = new Option<int>("--concurrency") { Description = "tasks in flight", DefaultValueFactory = _ => 64 };
var evalOutput = new Option<string>("--output") { Description = "JSON results file", DefaultValueFactory = _ => "artifacts/bench/eval.json" };
var evalNoDocker = new Option<bool>("--no-docker") { Description = "skip the 50 ms workload over 2 docker replicas" };
var eval = new Command("eval", "Evaluation runner: its overhead over raw calls (url mode, store and progress on), the store alone, 2,000 tasks over 2 docker replicas.")
{
    hostBinary, tasks, concurrency, evalNoDocker, evalOutput,
};
eval.SetAction((result, _) => EvalBenchmark.RunAsync(
    result.GetValue(hostBinary)!, result.GetValue(tasks), result.GetValue(concurrency), !result.GetValue(evalNoDocker), result.GetValue(evalOutput)!));
root.Subcommands.Add(eval);

var basilicaTasks = new Option<int>("--tasks") { Description = "tasks of the 50 ms workload", DefaultValueFactory = _ => 200 };
var basilicaConcurrency = new Option<int>("--concurrency") { Description = "tasks in flight", DefaultValueFactory = _ => 20 };
var basilicaRate = new Option<double>("--api-rate") { Description = "Basilica API requests per second (the client's token bucket; 0.75 by default, as afs)", DefaultValueFactory = _ => 0.75 };
var basilicaProbe = new Option<int>("--probe-period-ms") { Description = "how often the contract server probes a starting pod's readiness (Kubernetes' probe period, a server-side wait; 50 ms by default, its tests' 200 ms)", DefaultValueFactory = _ => 50 };
var basilicaOutput = new Option<string>("--output") { Description = "JSON results file", DefaultValueFactory = _ => "artifacts/bench/basilica.json" };
var basilicaBench = new Command("basilica", "The jobs on Basilica through the local contract server vs Docker mode: an evaluation of 200 tasks of 50 ms at 20 in flight over 2 replicas (wall-time ratio, API requests per task), and a scoring cycle of 3 miners with one broken image vs the slowest miner alone.")
{
    basilicaTasks, basilicaConcurrency, basilicaRate, basilicaProbe, basilicaOutput,
};
basilicaBench.SetAction((result, _) => BasilicaBenchmark.RunAsync(result.GetValue(basilicaTasks), result.GetValue(basilicaConcurrency), result.GetValue(basilicaRate), result.GetValue(basilicaProbe), result.GetValue(basilicaOutput)!));
root.Subcommands.Add(basilicaBench);

var episodeCount = new Option<int>("--episodes") { Description = "episodes per measured run", DefaultValueFactory = _ => 200 };
var episodeSteps = new Option<int>("--steps") { Description = "steps of each episode", DefaultValueFactory = _ => 10 };
var episodesConcurrency = new Option<int>("--concurrency") { Description = "episodes in flight", DefaultValueFactory = _ => 64 };
var episodesRounds = new Option<int>("--rounds") { Description = "measured rounds of each (the median of the per-round ratios is reported; 21: with 9, medians on 2 cores spread from +4% to +20%)", DefaultValueFactory = _ => 21 };
var episodesOutput = new Option<string>("--output") { Description = "JSON results file", DefaultValueFactory = _ => "artifacts/bench/episodes.json" };
var episodesNoDeadlines = new Option<bool>("--no-deadlines") { Description = "no call with a deadline on either side (by default each call issued directly has the runner's 600 s, as each of its steps does)" };
var episodesBench = new Command("episodes", "Episode runner: 200 episodes of 10 steps at 64 in flight against a trivial interactive environment and a local model, against the same calls issued directly; the runner's overhead.")
{
    hostBinary, episodeCount, episodeSteps, episodesConcurrency, episodesRounds, episodesNoDeadlines, episodesOutput,
};
episodesBench.SetAction((result, _) => EpisodesBenchmark.RunAsync(result.GetValue(hostBinary)!, result.GetValue(episodeCount), result.GetValue(episodeSteps),
    result.GetValue(episodesConcurrency), result.GetValue(episodesRounds), !result.GetValue(episodesNoDeadlines), result.GetValue(episodesOutput)!));
root.Subcommands.Add(episodesBench);

var viewResults = new Option<int>("--results") { Description = "results in the store (one run of 20,000 tasks, the rest in runs of 1,000)", DefaultValueFactory = _ => 100_000 };
var viewRounds = new Option<int>("--rounds") { Description = "requests per page (the median and p95 are reported)", DefaultValueFactory = _ => 30 };
var viewOutput = new Option<string>("--output") { Description = "JSON results file", DefaultValueFactory = _ => "artifacts/bench/view.json" };
var view = new Command("view", "afs view on a store of 100,000 results: the index, a run page of 20,000 tasks (sorted, filtered), a task, a comparison, a CSV, each over HTTP; target under 300 ms.")
{
    viewResults, viewRounds, viewOutput,
};
view.SetAction((result, _) => ViewBenchmark.RunAsync(result.GetValue(viewResults), result.GetValue(viewRounds), result.GetValue(viewOutput)!));
root.Subcommands.Add(view);

return await root.Parse(args).InvokeAsync();
