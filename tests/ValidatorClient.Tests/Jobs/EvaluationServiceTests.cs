using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Jobs;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.ValidatorClient.Tests.Jobs;

/// <summary>The evaluation job through the library alone, against a real host process in url mode.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class EvaluationServiceTests(EvalHostFixture fixture) : IClassFixture<EvalHostFixture>, IAsyncLifetime
{
    private readonly TempStore _temp = new();
    private ResultStore _store = null!;

    public async Task InitializeAsync() => _store = await _temp.OpenAsync();

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        await _temp.DisposeAsync();
    }

    private EvaluationJob Job(int to, ModelEndpoint? model = null, IReadOnlyDictionary<string, object?>? kwargs = null) => new()
    {
        Environment = new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [$"http://127.0.0.1:{fixture.Host.Port}"] },
        Request = new EvaluationRequest { TaskIds = EvalHostFixture.Tasks(1, to), Kwargs = kwargs ?? new Dictionary<string, object?>() },
        Model = model,
    };

    [Fact]
    public async Task AJob_RunsEveryTask_StoresThem_AndReports()
    {
        var local = new LocalTestModel();
        await using var client = AffinetesClient.Create();
        var service = new EvaluationService(client, _store, new EvaluationServiceOptions { LocalModel = local });
        var notes = new List<string>();
        await using var session = await service.StartAsync(Job(12, kwargs: new Dictionary<string, object?> { ["ms"] = new CommandLineValue("5") }), new Notes(notes)).Within();
        var results = await EvalHostFixture.ReadAllAsync(session.Run);
        Assert.Equal(12, results.Count);
        Assert.Equal(1, local.Started);
        // The local model's name goes only where the method declares it (evaluate takes `model`, not `base_url`);
        // the typed text "5" became the number the method's `ms: int` wants.
        using var kwargs = JsonDocument.Parse(JsonSerializer.Serialize(session.Run.Request.Kwargs));
        Assert.Equal(LocalTestModel.Name, kwargs.RootElement.GetProperty("model").GetString());
        Assert.False(kwargs.RootElement.TryGetProperty("base_url", out _));
        Assert.Equal(5, kwargs.RootElement.GetProperty("ms").GetInt32());
        Assert.Equal("model: the tests' local model", session.Label);
        Assert.Equal(CallDeadlines.EvaluationDefault, session.Run.Request.TaskTimeout);
        Assert.Contains(notes, n => n.StartsWith($"connecting to http://127.0.0.1:{fixture.Host.Port}", StringComparison.Ordinal));

        var report = await session.ReportAsync().Within();
        Assert.Equal(RunStatus.Completed, report.Info!.Status);
        Assert.Equal(12, report.Summary.Tasks);
        Assert.Equal(results.Average(r => r.Score), report.Summary.MeanScore, 9);
        Assert.Equal("true", report.Info.Settings["model.local"]);
        Assert.Equal("url", report.Info.Settings["environment.mode"]);
        Assert.Contains("\"name\":\"evaluate\"", report.Info.Settings["method.descriptor"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEndpoint_GetsBaseUrlAndModel_AlwaysAndTheLabelNamesIt()
    {
        await using var client = AffinetesClient.Create();
        var service = new EvaluationService(client, _store);
        var model = new ModelEndpoint { BaseUrl = "https://llm.example/v1", Model = "big-model", ApiKeyVariable = "NO_SUCH_KEY_VARIABLE" };
        await using var session = await service.StartAsync(Job(2, model)).Within();
        await EvalHostFixture.ReadAllAsync(session.Run);
        Assert.Equal("https://llm.example/v1", session.Run.Request.Kwargs["base_url"]);
        Assert.Equal("big-model", session.Run.Request.Kwargs["model"]);
        Assert.Equal("model: big-model at https://llm.example/v1", session.Label);
        var info = await _store.GetRunAsync(session.Run.Id);
        Assert.Equal("https://llm.example/v1", info!.Settings["model.base_url"]);
        Assert.Equal("NO_SUCH_KEY_VARIABLE", info.Settings["model.api_key_env"]);
        Assert.DoesNotContain(info.Settings.Values, v => v.Contains("sk-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AMissingMethod_FailsTheJob_NamingWhatTheEnvironmentHas_AndNothingIsRecorded()
    {
        await using var client = AffinetesClient.Create();
        var service = new EvaluationService(client, _store, new EvaluationServiceOptions { LocalModel = new LocalTestModel() });
        var job = Job(3) with { Request = new EvaluationRequest { TaskIds = [1], Method = "nope" } };
        var error = await Assert.ThrowsAsync<MethodNotFoundException>(() => service.StartAsync(job).Within());
        Assert.StartsWith("the environment has no method 'nope'; it has ", error.Message);
        Assert.Contains("evaluate", error.Message, StringComparison.Ordinal);
        Assert.Empty(await _store.ListRunsAsync());
    }

    [Fact]
    public async Task ABadJob_ListsEveryProblemAtOnce_AndStartsNothing()
    {
        var local = new LocalTestModel();
        await using var client = AffinetesClient.Create();
        var service = new EvaluationService(client, _store, new EvaluationServiceOptions { LocalModel = local });
        var job = Job(3) with
        {
            Request = new EvaluationRequest { TaskIds = [1], Concurrency = 0, Retries = -1 },
            Model = new ModelEndpoint { BaseUrl = "ftp://nowhere" },
            LlmUpstream = "not a url",
        };
        var error = await Assert.ThrowsAsync<JobOptionsException>(() => service.StartAsync(job).Within());
        Assert.Equal(4, error.Problems.Count);
        Assert.Contains(error.Problems, p => p.StartsWith("concurrency is 0", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("'ftp://nowhere' is not an http(s) URL", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("'not a url' is not an http(s) URL", StringComparison.Ordinal));
        Assert.Equal(0, local.Started);
        Assert.Empty(await _store.ListRunsAsync());
    }

    [Fact]
    public async Task ACancelledRun_ResumesWithItsOwnSettings_TheLocalModelBackOnItsPort_AndARunInUseIsRefused()
    {
        var local = new LocalTestModel();
        await using var client = AffinetesClient.Create();
        var service = new EvaluationService(client, _store, new EvaluationServiceOptions { LocalModel = local });
        var job = Job(30, kwargs: new Dictionary<string, object?> { ["ms"] = 50 }) with { LocalModelPort = 18790 };
        string runId;
        await using (var session = await service.StartAsync(job with { Request = job.Request with { Concurrency = 2 } }).Within())
        {
            runId = session.Run.Id;
            using var stop = new CancellationTokenSource();
            var seen = 0;
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var _ in session.Run.ResultsAsync(stop.Token))
                {
                    if (++seen == 4)
                    {
                        await stop.CancelAsync();
                    }
                }
            }).Within();
            // While this process runs it, the run cannot be resumed a second time.
            await Assert.ThrowsAsync<RunInUseException>(() => service.ResumeAsync(runId).Within());
        }
        await using (var resumed = await service.ResumeAsync(runId).Within())
        {
            Assert.True(resumed.Resumed);
            Assert.Equal(2, resumed.Run.Request.Concurrency);
            // The run's kwargs hold the port the model listened on: the resume asks for that one, not another.
            Assert.Equal([18790, local.PortsListened[0]], local.PortsAsked);
            var rest = await EvalHostFixture.ReadAllAsync(resumed.Run);
            Assert.Equal(30 - resumed.Run.AlreadyDone, rest.Count);
        }
        Assert.Equal(RunStatus.Completed, (await _store.GetRunAsync(runId))!.Status);
        var complete = await Assert.ThrowsAsync<JobOptionsException>(() => service.ResumeAsync(runId).Within());
        Assert.StartsWith($"run {runId} is complete", complete.Message);
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
}
