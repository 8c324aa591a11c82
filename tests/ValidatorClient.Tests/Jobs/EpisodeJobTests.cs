using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Jobs;
using Affinetes.ValidatorClient.Results;
using Affinetes.ValidatorClient.Tests.Episodes;

namespace Affinetes.ValidatorClient.Tests.Jobs;

/// <summary>The evaluation service in episode mode, through the library alone: python-guess host processes in url mode.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class EpisodeJobTests(GuessRunnerFixture fixture) : IClassFixture<GuessRunnerFixture>, IAsyncLifetime
{
    private const string KeyVariable = "AFFINETES_EPISODE_JOB_TEST_KEY";
    private readonly TempStore _temp = new();
    private ResultStore _store = null!;

    public async Task InitializeAsync() => _store = await _temp.OpenAsync();

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        await _temp.DisposeAsync();
    }

    private EvaluationJob Job(int to, ModelEndpoint? model, IReadOnlyDictionary<string, object?>? kwargs = null) => new()
    {
        Environment = new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [fixture.Hosts.Url(0), fixture.Hosts.Url(1)] },
        Request = new EvaluationRequest
        {
            TaskIds = EvalHostFixture.Tasks(1, to),
            Kwargs = kwargs ?? new Dictionary<string, object?>(),
            // The endpoint named here is not the one that plays: the job's model (or the local one) is.
            Episodes = new EpisodeSettings { BaseUrl = "http://127.0.0.1:1/v1", Model = "not-this-one", MaxSteps = 7 },
        },
        Model = model,
    };

    [Fact]
    public async Task TheJobsModelPlays_TheKwargsAreTypedForReset_AndTheRunIsStoredAsEpisodes()
    {
        Environment.SetEnvironmentVariable(KeyVariable, "sk-job");
        await using var client = AffinetesClient.Create();
        var service = new EvaluationService(client, _store);
        var model = new ModelEndpoint { BaseUrl = fixture.Model.BaseUrl.ToString(), Model = "halver", ApiKeyVariable = KeyVariable };
        await using var session = await service.StartAsync(Job(6, model, new Dictionary<string, object?> { ["seed"] = new CommandLineValue("3") })).Within();
        var results = await EvalHostFixture.ReadAllAsync(session.Run);

        Assert.Equal(EpisodeSettings.MethodName, session.Run.Request.Method);
        Assert.Equal(fixture.Model.BaseUrl.ToString(), session.Run.Request.Episodes!.BaseUrl);
        Assert.Equal("halver", session.Run.Request.Episodes.Model);
        // reset's seed is an int: the typed text became a number, and every episode was played with it.
        Assert.Equal(JsonValueKind.Number, ((JsonElement)session.Run.Request.Kwargs["seed"]!).ValueKind);
        Assert.Equal("reset", session.Method!.Name);
        Assert.All(results, r => Assert.Equal(1.0, r.Score));
        Assert.All(results, r => Assert.True(r.Value!.Value.GetProperty("done").GetBoolean()));
        var report = await session.ReportAsync().Within();
        Assert.Equal(6, report.Summary.Completed);
        Assert.Equal("episode", report.Info!.Method);
        Assert.Equal("false", report.Info.Settings["model.local"]);
        Assert.Equal(results.Sum(r => r.Value!.Value.GetProperty("steps").GetInt32()), report.LlmUsage!.Requests);
    }

    [Fact]
    public async Task TheLocalModelPlaysWhenNoneIsNamed_ACancelledRunResumesWithIt()
    {
        var local = new LocalTestModel(Players.BinarySearch);
        await using var client = AffinetesClient.Create();
        var service = new EvaluationService(client, _store, new EvaluationServiceOptions { LocalModel = local });
        var job = Job(20, model: null);
        string runId;
        await using (var session = await service.StartAsync(job with { Request = job.Request with { Concurrency = 2 } }).Within())
        {
            runId = session.Run.Id;
            Assert.Equal(local.PortsListened[0], new Uri(session.Run.Request.Episodes!.BaseUrl).Port);
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
            }).Within();
        }
        await using (var resumed = await service.ResumeAsync(runId).Within())
        {
            // The local model is started again for the resume, and plays with its placeholder key (none is stored).
            Assert.Equal(2, local.Started);
            Assert.Equal(local.PortsListened[1], new Uri(resumed.Run.Request.Episodes!.BaseUrl).Port);
            var rest = await EvalHostFixture.ReadAllAsync(resumed.Run);
            Assert.Equal(20 - resumed.Run.AlreadyDone, rest.Count);
            Assert.All(rest, r => Assert.Equal(1.0, r.Score));
        }
        Assert.Equal(RunStatus.Completed, (await _store.GetRunAsync(runId))!.Status);
    }

    [Fact]
    public async Task AnEpisodeJobWithAGateway_IsRefusedSayingWhy()
    {
        await using var client = AffinetesClient.Create();
        var service = new EvaluationService(client, _store);
        var job = Job(2, new ModelEndpoint { BaseUrl = fixture.Model.BaseUrl.ToString(), Model = "m" }) with { LlmUpstream = "http://127.0.0.1:9/v1" };
        var refused = await Assert.ThrowsAsync<JobOptionsException>(() => service.StartAsync(job).Within());
        Assert.Contains("in episode mode this process calls the model itself", refused.Message, StringComparison.Ordinal);
        Assert.Empty(await _store.ListRunsAsync());
    }
}
