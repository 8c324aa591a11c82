using System.Diagnostics;
using System.Text.Json;
using Affinetes.Testing.Basilica;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Jobs;
using Affinetes.ValidatorClient.Miners;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Bench;

/// <summary>
/// The validator's jobs on Basilica through the local contract server (each deployment real containers behind an
/// ingress on 127.0.0.1) vs Docker mode, through the same library service <c>afs eval</c> and <c>afs score</c> call:
/// an evaluation of N tasks of the 50 ms workload at C in flight over 2 replicas, from the job's start to its
/// environment's release (provisioning included, as a validator pays it); the Basilica API requests per task; and a
/// scoring cycle of 3 miners, one of whose images cannot be pulled, vs the slowest of those miners scored alone.
/// </summary>
internal static class BasilicaBenchmark
{
    private static readonly ModelEndpoint NoModel = new() { BaseUrl = "http://127.0.0.1:9/v1", LocalOnly = true, Label = "no model (the workload calls none)" };

    public static async Task<int> RunAsync(int tasks, int concurrency, double apiRate, int probePeriodMs, string output)
    {
        await using var image = await BenchImage.BuildAsync("python-bench");
        await using var server = await BasilicaContractServer.StartAsync();
        // The contract server's phases wait nothing and its readiness probes come often: what is compared is this
        // client's path on Basilica against Docker's on one machine, not the 4 x 100 ms its tests wait to see each
        // phase or the period of a probe (a real Basilica's pull, schedule and probes take what they take, on its side).
        server.PhaseDelay = TimeSpan.Zero;
        server.ReadinessProbePeriod = TimeSpan.FromMilliseconds(probePeriodMs);
        var state = Directory.CreateTempSubdirectory("affinetes-bench-basilica-");
        var storeDirectory = Directory.CreateTempSubdirectory("affinetes-bench-store-");
        try
        {
            await using var store = await ResultStore.OpenAsync(Path.Combine(storeDirectory.FullName, "results.db"));
            await using var client = AffinetesClient.Create();
            var basilicaOptions = new BasilicaOptions { ApiUrl = server.Url, Token = server.Token, StateDirectory = state.FullName, ApiRequestsPerSecond = apiRate };
            var service = new EvaluationService(client, store);

            var onDocker = new EnvironmentOptions { Image = image.Tag, Replicas = 2, Docker = new DockerOptions { Network = ContainerNetwork.Open } };
            var onBasilica = new EnvironmentOptions { Mode = EnvironmentMode.Basilica, Image = image.Tag, Replicas = 2, Basilica = basilicaOptions };
            // Warm-up, not measured: the first container start of an image pays for the engine's caches, the first
            // deployment for this process's JIT of the contract server and its ingress.
            await EvaluateAsync(service, onDocker with { Replicas = 1 }, 20, concurrency);
            await EvaluateAsync(service, onBasilica with { Replicas = 1 }, 20, concurrency);
            await RefillAsync(basilicaOptions);
            // Five runs of each, alternating, the median reported (the machine is shared: single runs vary a lot).
            var dockerRuns = new List<EvalTimes>();
            var basilicaRuns = new List<EvalTimes>();
            var evalRequests = new List<string>();
            for (var run = 0; run < Runs; run++)
            {
                dockerRuns.Add(await EvaluateAsync(service, onDocker, tasks, concurrency));
                var before = server.Requests.Count;
                basilicaRuns.Add(await EvaluateAsync(service, onBasilica, tasks, concurrency));
                evalRequests = [.. server.Requests.Skip(before)];
                await RefillAsync(basilicaOptions);
            }
            var docker = EvalTimes.Median(dockerRuns);
            var basilica = EvalTimes.Median(basilicaRuns);

            // Scoring: 3 miners, one image never pushed, at most 4 deployments at once; then each good miner alone;
            // interleaved rounds, each figure their median.
            var scoring = new ScoringService(client, store);
            var (threes, slowests) = (new List<TimeSpan>(), new List<TimeSpan>());
            var scoreRequests = 0;
            for (var round = 0; round < ScoreRounds; round++)
            {
                var beforeScore = server.Requests.Count;
                threes.Add(await ScoreAsync(scoring, state, basilicaOptions, new() { ["1"] = image.Tag, ["2"] = image.Tag, ["3"] = "affinetes-bench/never-pushed:none" }, tasks, concurrency));
                scoreRequests = server.Requests.Count - beforeScore;
                await RefillAsync(basilicaOptions);
                var alone1 = await ScoreAsync(scoring, state, basilicaOptions, new() { ["1"] = image.Tag }, tasks, concurrency);
                await RefillAsync(basilicaOptions);
                var alone2 = await ScoreAsync(scoring, state, basilicaOptions, new() { ["2"] = image.Tag }, tasks, concurrency);
                await RefillAsync(basilicaOptions);
                slowests.Add(alone1 > alone2 ? alone1 : alone2);
            }
            var three = threes.Order().ElementAt(ScoreRounds / 2);
            var slowest = slowests.Order().ElementAt(ScoreRounds / 2);
            await server.AssertAllDeletedAsync();

            var results = new
            {
                tasks,
                concurrency,
                replicas = 2,
                api_requests_per_second = apiRate,
                contract_server_probe_period_ms = probePeriodMs,
                docker_eval_s = docker.Total.TotalSeconds,
                basilica_eval_s = basilica.Total.TotalSeconds,
                docker_start_calls_release_s = new[] { docker.Start.TotalSeconds, docker.Calls.TotalSeconds, docker.Release.TotalSeconds },
                basilica_start_calls_release_s = new[] { basilica.Start.TotalSeconds, basilica.Calls.TotalSeconds, basilica.Release.TotalSeconds },
                docker_eval_runs_s = dockerRuns.Select(r => r.Total.TotalSeconds),
                basilica_eval_runs_s = basilicaRuns.Select(r => r.Total.TotalSeconds),
                eval_ratio = basilica.Total / docker.Total,
                calls_ratio = basilica.Calls / docker.Calls,
                basilica_api_requests = evalRequests.Count,
                basilica_api_requests_per_task = (double)evalRequests.Count / tasks,
                basilica_api_requests_by_kind = evalRequests.GroupBy(r => r.Split(' ')[0] + " " + (r.Count(c => c == '/') > 1 ? "/deployments/{name}" : r.Split(' ')[1]))
                    .ToDictionary(g => g.Key, g => g.Count()),
                score_three_miners_one_broken_s = three.TotalSeconds,
                score_slowest_single_miner_s = slowest.TotalSeconds,
                score_ratio = three / slowest,
                score_three_miners_api_requests = scoreRequests,
            };
            Console.WriteLine($"(the contract server's phases wait nothing; it probes a starting pod every {probePeriodMs} ms: --probe-period-ms)");
            Console.WriteLine($"{$"job (eval: median of {Runs})",-52} {"seconds",8}   start / tasks / release");
            Console.WriteLine($"{$"eval docker ({tasks} tasks, {concurrency} in flight, 2 replicas)",-52} {docker.Total.TotalSeconds,8:0.00}   {docker}");
            Console.WriteLine($"{$"eval basilica ({tasks} tasks, {concurrency} in flight, 2 replicas)",-52} {basilica.Total.TotalSeconds,8:0.00}   {basilica}");
            Console.WriteLine($"{$"score basilica, 3 miners (1 broken), median of {ScoreRounds}",-52} {three.TotalSeconds,8:0.00}");
            Console.WriteLine($"{$"score basilica, slowest good miner alone, median of {ScoreRounds}",-52} {slowest.TotalSeconds,8:0.00}");
            Console.WriteLine($"eval basilica/docker: {results.eval_ratio:0.00}x the whole job (target <= 1.2x), {results.calls_ratio:0.00}x its tasks alone");
            Console.WriteLine($"basilica API requests of the eval: {evalRequests.Count} for {tasks} tasks = {results.basilica_api_requests_per_task:0.000} per task (target <= 0.05; the original makes >= 3): " +
                string.Join(", ", results.basilica_api_requests_by_kind.Select(kv => $"{kv.Key} {kv.Value}")));
            Console.WriteLine($"score 3 miners with one broken / slowest miner alone: {results.score_ratio:0.00}x (target <= 1.3x); {scoreRequests} API requests at {apiRate} a second");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            await File.WriteAllTextAsync(output, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            storeDirectory.Delete(recursive: true);
            state.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Waits until the API's token bucket is full again, as between a validator's jobs: each measured job starts with
    /// the burst a job gets, not with what the one before left.
    /// </summary>
    private static Task RefillAsync(BasilicaOptions options) => Task.Delay(TimeSpan.FromSeconds(options.ApiBurst / options.ApiRequestsPerSecond));

    private const int Runs = 5;
    private const int ScoreRounds = 3;

    /// <summary>One evaluation's time: the environment's start, its tasks, its release.</summary>
    private sealed record EvalTimes(TimeSpan Start, TimeSpan Calls, TimeSpan Release)
    {
        public TimeSpan Total => Start + Calls + Release;

        public static EvalTimes Median(List<EvalTimes> runs) => runs.OrderBy(r => r.Total).ElementAt(runs.Count / 2);

        public override string ToString() => $"{Start.TotalSeconds:0.00} / {Calls.TotalSeconds:0.00} / {Release.TotalSeconds:0.00}";
    }

    /// <summary>One evaluation as <c>afs eval</c> runs it (the cache off: every task is called): start, tasks, release.</summary>
    private static async Task<EvalTimes> EvaluateAsync(EvaluationService service, EnvironmentOptions environment, int tasks, int concurrency)
    {
        var clock = Stopwatch.StartNew();
        var session = await service.StartAsync(new EvaluationJob
        {
            Environment = environment,
            Request = new EvaluationRequest
            {
                TaskIds = [.. Enumerable.Range(1, tasks).Select(i => (long)i)],
                Kwargs = new Dictionary<string, object?> { ["delay_ms"] = 50 },
                Concurrency = concurrency,
                UseCache = false,
            },
            Model = NoModel,
        });
        var start = clock.Elapsed;
        var completed = 0;
        await foreach (var result in session.Run.ResultsAsync())
        {
            completed += result.Success ? 1 : 0;
        }
        var calls = clock.Elapsed - start;
        await session.DisposeAsync();
        var release = clock.Elapsed - start - calls;
        if (completed != tasks)
        {
            throw new InvalidOperationException($"{completed} of {tasks} tasks completed on {environment.Mode}");
        }
        return new EvalTimes(start, calls, release);
    }

    /// <summary>One scoring cycle of <paramref name="miners"/> on Basilica, 4 deployments at most at once.</summary>
    private static async Task<TimeSpan> ScoreAsync(ScoringService service, DirectoryInfo work, BasilicaOptions basilica, Dictionary<string, string> miners, int tasks, int concurrency)
    {
        var file = Path.Combine(work.FullName, $"miners-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(miners));
        var clock = Stopwatch.StartNew();
        await service.ScoreAsync(new ScoringJob
        {
            Miners = MinersSource.FromFile(file),
            Environment = new EnvironmentOptions { Mode = EnvironmentMode.Basilica, Basilica = basilica },
            Request = new EvaluationRequest
            {
                TaskIds = [.. Enumerable.Range(1, tasks).Select(i => (long)i)],
                Kwargs = new Dictionary<string, object?> { ["delay_ms"] = 50 },
                Concurrency = concurrency,
                UseCache = false,
            },
            Model = NoModel,
            MinersConcurrency = 4,
        });
        return clock.Elapsed;
    }
}
