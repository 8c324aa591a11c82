using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Jobs;
using Affinetes.ValidatorClient.Miners;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.ValidatorClient.Tests.Jobs;

/// <summary>The job services against real containers: the cache that starts nothing, a resume as it was started, scoring, validation.</summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(DockerModeCollection.Name)]
public sealed class JobsDockerTests(DockerModeFixture fixture) : IAsyncLifetime
{
    private readonly TempStore _temp = new();
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-jobs-");
    private ResultStore _store = null!;

    public async Task InitializeAsync() => _store = await _temp.OpenAsync();

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        await _temp.DisposeAsync();
        _work.Delete(recursive: true);
    }

    private static EvaluationServiceOptions WithLocalModel() => new() { LocalModel = new LocalTestModel() };

    [Fact]
    public async Task AJobWhoseEveryTaskIsCached_StartsNoContainer()
    {
        await using var client = AffinetesClient.Create();
        var service = new EvaluationService(client, _store, WithLocalModel());
        var job = new EvaluationJob
        {
            Environment = new EnvironmentOptions { Image = fixture.ClientImage },
            Request = new EvaluationRequest { Method = "score", TaskIds = [1, 2, 3, 4, 5] },
        };
        var first = await service.RunAsync(job).Within(TimeSpan.FromMinutes(2));
        Assert.Equal(5, first.Summary.Completed);

        var notes = new List<string>();
        await using var again = await service.StartAsync(job, new Notes(notes)).Within(TimeSpan.FromMinutes(2));
        Assert.Null(again.Environment);
        Assert.Equal(5, again.Run.CacheHits);
        Assert.Equal(0, again.Run.ToRun);
        Assert.Contains($"every task of {fixture.ClientImage} is in the cache; no replica is started", notes);
        Assert.Equal(5, (await EvalHostFixture.ReadAllAsync(again.Run)).Count(r => r.FromCache));

        // One task more than the cache holds: the environment is started for it alone.
        await using var more = await service.StartAsync(job with { Request = job.Request with { TaskIds = [1, 2, 3, 4, 5, 6] } }).Within(TimeSpan.FromMinutes(2));
        Assert.NotNull(more.Environment);
        Assert.Equal(1, more.Run.ToRun);
        await EvalHostFixture.ReadAllAsync(more.Run);
    }

    [Fact]
    public async Task AResumedRun_StartsAsManyReplicasAsItWasStartedWith()
    {
        await using var client = AffinetesClient.Create();
        var service = new EvaluationService(client, _store, WithLocalModel());
        var job = new EvaluationJob
        {
            Environment = new EnvironmentOptions { Image = fixture.ClientImage, Replicas = 2 },
            Request = new EvaluationRequest { Method = "sleep", TaskIdParameter = "tag", TaskIds = [.. Enumerable.Range(1, 40).Select(i => (long)i)], Kwargs = new Dictionary<string, object?> { ["ms"] = 200 }, Concurrency = 2 },
        };
        string runId;
        await using (var session = await service.StartAsync(job).Within(TimeSpan.FromMinutes(2)))
        {
            runId = session.Run.Id;
            Assert.Equal(2, session.Environment!.Replicas.Count);
            using var stop = new CancellationTokenSource();
            var seen = 0;
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var _ in session.Run.ResultsAsync(stop.Token))
                {
                    if (++seen == 3)
                    {
                        await stop.CancelAsync();
                    }
                }
            }).Within(TimeSpan.FromMinutes(1));
        }
        // Resumed with nothing but its id: 2 replicas again, its network, its deadline.
        await using var resumed = await service.ResumeAsync(runId).Within(TimeSpan.FromMinutes(2));
        Assert.Equal(2, resumed.Environment!.Replicas.Count);
        Assert.Equal(NetworkMode.Open, resumed.Options.Docker.Network.Mode);
        Assert.StartsWith("network open", EvaluationService.Describe(resumed.Options), StringComparison.Ordinal);
        var rest = await EvalHostFixture.ReadAllAsync(resumed.Run, TimeSpan.FromMinutes(2));
        Assert.Equal(40 - resumed.Run.AlreadyDone, rest.Count);
    }

    [Fact]
    public async Task Scoring_GoodMissingAndUnusableMiners_ScoresWeightsReasons_AndTheChainsVectors()
    {
        var file = Path.Combine(_work.FullName, "miners.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["7"] = fixture.ClientImage,
            ["8"] = "affinetes-test/never-built:none",
            ["9"] = "NOT An Image!",
        }));
        await using var client = AffinetesClient.Create();
        var service = new ScoringService(client, _store, WithLocalModel());
        var scored = new List<MinerScore>();
        var report = await service.ScoreAsync(new ScoringJob
        {
            Miners = MinersSource.FromFile(file),
            Environment = new EnvironmentOptions { ReadyTimeout = TimeSpan.FromSeconds(60), Docker = new DockerOptions { Pull = PullPolicy.Never } },
            Request = new EvaluationRequest { Method = "score", TaskIds = [1, 2, 3] },
        }, new Scores(scored)).Within(TimeSpan.FromMinutes(3));

        Assert.Equal(3, scored.Count);
        var byUid = report.Miners.ToDictionary(m => m.Miner.Uid);
        Assert.Equal(0.5, byUid["7"].Score);
        Assert.Null(byUid["7"].Reason);
        Assert.StartsWith("sha256:", byUid["7"].ImageDigest);
        Assert.Equal(0, byUid["8"].Score);
        Assert.StartsWith("not started: ", byUid["8"].Reason);
        Assert.Equal(0, byUid["9"].Score);
        Assert.StartsWith("no usable image: ", byUid["9"].Reason);
        Assert.Equal([1.0, 0.0, 0.0], report.Weights);
        Assert.Equal([(ushort)7], report.ChainUids!);
        Assert.Equal([(ushort)65535], report.ChainWeights!);
    }

    [Fact]
    public async Task Validation_WritesTheRollouts_AsTheOriginalDoes()
    {
        await using var client = AffinetesClient.Create();
        var service = new ValidationService(client, WithLocalModel());
        var directory = Path.Combine(_work.FullName, "rollouts");
        var report = await service.ValidateAsync(new ValidationJob
        {
            Environment = new EnvironmentOptions { Image = fixture.ClientImage },
            Method = "score",
            TaskIds = [1, 2, 3],
            RolloutsDirectory = directory,
        }).Within(TimeSpan.FromMinutes(2));
        Assert.True(report.Ok, string.Join("; ", report.Problems));
        Assert.False(report.HadChallenges);
        Assert.Equal(["summary.json", "test_task00001.json", "test_task00002.json", "test_task00003.json"],
            Directory.GetFiles(directory).Select(Path.GetFileName).Order());
        using var rollout = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(directory, "test_task00002.json")));
        Assert.Equal(2, rollout.RootElement.GetProperty("task_id").GetInt32());
        Assert.Equal(0.5, rollout.RootElement.GetProperty("score").GetDouble());
        Assert.True(rollout.RootElement.GetProperty("seed_consistent").GetBoolean());
        Assert.Equal(0.5, rollout.RootElement.GetProperty("validation").GetProperty("second_run").GetProperty("score").GetDouble());
        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(directory, "summary.json")));
        Assert.Equal(3, summary.RootElement.GetProperty("total_tests").GetInt32());
        Assert.Equal(1.0, summary.RootElement.GetProperty("success_rate").GetDouble());
        Assert.True(summary.RootElement.GetProperty("valid").GetBoolean());
        Assert.Equal(3, summary.RootElement.GetProperty("rollouts").GetArrayLength());
    }

    private sealed class Notes(List<string> lines) : IProgress<string>
    {
        public void Report(string value)
        {
            lock (lines)
            {
                lines.Add(value);
            }
        }
    }

    private sealed class Scores(List<MinerScore> scores) : IProgress<MinerScore>
    {
        public void Report(MinerScore value)
        {
            lock (scores)
            {
                scores.Add(value);
            }
        }
    }
}
