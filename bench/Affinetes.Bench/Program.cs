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

return await root.Parse(args).InvokeAsync();
