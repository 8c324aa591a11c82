using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.ValidatorClient.Tests.Episodes;

/// <summary>Two host processes serving python-guess, and a local model that plays it by binary search.</summary>
public sealed class GuessRunnerFixture : IAsyncLifetime
{
    public EpisodeHosts Hosts { get; private set; } = null!;

    public LocalLlmServer Model { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Hosts = await EpisodeHosts.StartAsync("python_guess_env.py", 2);
        Model = await LocalLlmServer.StartAsync(Players.BinarySearch);
    }

    public async Task DisposeAsync()
    {
        await Hosts.DisposeAsync();
        await Model.DisposeAsync();
    }

    public EpisodeSettings Settings(int maxSteps = 30) => new() { BaseUrl = Model.BaseUrl.ToString(), Model = "guesser", ApiKey = "sk-test", MaxSteps = maxSteps };

    public async Task<int> OpenEpisodesAsync() =>
        (await Task.WhenAll(Enumerable.Range(0, Hosts.Hosts.Count).Select(i => Hosts.CallHostAsync(i, "stats")))).Sum(s => s.GetProperty("open").GetInt32());
}

/// <summary>
/// The evaluation runner in episode mode (each task one episode played by the model), end to end through the store:
/// results in the documented shape, the cache, a resume after a cancel.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class EpisodeRunnerTests(GuessRunnerFixture fixture) : IClassFixture<GuessRunnerFixture>
{
    private static readonly string[] ValueFields = ["score", "success", "reward", "done", "truncated", "steps", "episode_id", "reset", "trajectory", "stop_reason"];
    private static readonly string[] StepFields = ["step", "action", "observation", "reward", "done", "truncated", "info", "model"];

    [Fact]
    public async Task EachTask_IsOneEpisodePlayedByTheModel_StoredWithItsTrajectoryInTheDocumentedShape()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        var run = await EvaluationRunner.Create(env, store).StartAsync(new EvaluationRequest
        {
            TaskIds = EvalHostFixture.Tasks(1, 12),
            Concurrency = 4,
            Episodes = fixture.Settings(),
        });
        Assert.Equal(EpisodeSettings.MethodName, run.Request.Method);
        var results = await EvalHostFixture.ReadAllAsync(run);

        Assert.Equal(EvalHostFixture.Tasks(1, 12), results.Select(r => r.TaskId).Order());
        foreach (var result in results)
        {
            Assert.True(result.Completed, result.Error);
            Assert.Equal((1.0, true, 1), (result.Score, result.Success, result.Attempts));
            var value = result.Value!.Value;
            Assert.Equal(ValueFields, value.EnumerateObject().Select(p => p.Name));
            var steps = value.GetProperty("steps").GetInt32();
            Assert.InRange(steps, 1, 7);
            Assert.Equal((1.0, 1.0, true, true, false, "done"), (value.GetProperty("score").GetDouble(), value.GetProperty("reward").GetDouble(),
                value.GetProperty("success").GetBoolean(), value.GetProperty("done").GetBoolean(), value.GetProperty("truncated").GetBoolean(),
                value.GetProperty("stop_reason").GetString()));
            var reset = value.GetProperty("reset");
            Assert.Equal((result.TaskId, result.TaskId), (reset.GetProperty("info").GetProperty("task_id").GetInt64(), reset.GetProperty("info").GetProperty("seed").GetInt64()));
            Assert.StartsWith("I have chosen a secret integer", reset.GetProperty("observation").GetString());
            var trajectory = value.GetProperty("trajectory").EnumerateArray().ToList();
            Assert.Equal(steps, trajectory.Count);
            for (var i = 0; i < trajectory.Count; i++)
            {
                var step = trajectory[i];
                Assert.Equal(StepFields, step.EnumerateObject().Select(p => p.Name));
                Assert.Equal(i + 1, step.GetProperty("step").GetInt32());
                Assert.Equal(i == steps - 1, step.GetProperty("done").GetBoolean());
                Assert.Equal(reset.GetProperty("info").GetProperty("replica").GetString(), step.GetProperty("info").GetProperty("replica").GetString());
                Assert.Equal(["latency_ms", "prompt_tokens", "completion_tokens"], step.GetProperty("model").EnumerateObject().Select(p => p.Name));
                Assert.True(step.GetProperty("model").GetProperty("completion_tokens").GetInt32() == 1);
            }
            Assert.Equal((steps, 0L), (result.LlmUsage!.Requests, result.LlmUsage.Errors));
        }

        // The conversation: the system prompt, then observations and the model's actions alternating.
        var longest = fixture.Model.Requests.MaxBy(r => r.Messages.Count)!;
        Assert.Equal(("system", EpisodeSettings.DefaultSystemPrompt), (longest.Messages[0].Role, longest.Messages[0].Content));
        Assert.Equal(Enumerable.Range(1, longest.Messages.Count - 1).Select(i => i % 2 == 1 ? "user" : "assistant"), longest.Messages.Skip(1).Select(m => m.Role));
        Assert.Equal("Bearer sk-test", longest.Authorization);

        var stored = await store.GetResultsAsync(run.Id);
        Assert.Equal(results.OrderBy(r => r.TaskId).Select(r => r.Value!.Value.GetRawText()), stored.Select(r => r.Value!.Value.GetRawText()));
        var info = (await store.GetRunAsync(run.Id))!;
        Assert.Equal((EpisodeSettings.MethodName, RunStatus.Completed), (info.Method, info.Status));
        var settings = JsonDocument.Parse(info.Kwargs).RootElement.GetProperty(EpisodeSettings.StoredKwarg);
        Assert.Equal((30, "guesser", "CHUTES_API_KEY"), (settings.GetProperty("max_steps").GetInt32(), settings.GetProperty("model").GetString(), settings.GetProperty("api_key_variable").GetString()));
        Assert.DoesNotContain("sk-test", info.Kwargs);
        Assert.Equal(0, await fixture.OpenEpisodesAsync()); // every episode stopped
    }

    [Fact]
    public async Task ARerun_IsServedFromTheCache_ButNotWithOtherEpisodeSettings()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        var runner = EvaluationRunner.Create(env, store);
        var request = new EvaluationRequest { TaskIds = EvalHostFixture.Tasks(1, 6), Episodes = fixture.Settings(), ImageDigest = "sha256:guess" };

        async Task<(List<TaskResult> Results, int Played)> RunAsync(EvaluationRequest r)
        {
            var before = fixture.Model.Requests.Count;
            var results = await EvalHostFixture.ReadAllAsync(await runner.StartAsync(r));
            return (results, fixture.Model.Requests.Count - before);
        }

        var (first, played) = await RunAsync(request);
        Assert.True(played >= 6);
        var (again, none) = await RunAsync(request with { Episodes = request.Episodes! with { ApiKey = "another-key" } }); // the key is not the evaluation
        Assert.Equal((0, 6), (none, again.Count(r => r.FromCache)));
        Assert.Equal(first.OrderBy(r => r.TaskId).Select(r => r.Value!.Value.GetRawText()), again.OrderBy(r => r.TaskId).Select(r => r.Value!.Value.GetRawText()));

        Assert.DoesNotContain((await RunAsync(request with { Episodes = fixture.Settings(maxSteps: 12) })).Results, r => r.FromCache);
        Assert.DoesNotContain((await RunAsync(request with { Episodes = request.Episodes with { Model = "other" } })).Results, r => r.FromCache);
        Assert.DoesNotContain((await RunAsync(request with { Episodes = request.Episodes with { SystemPrompt = "Guess." } })).Results, r => r.FromCache);
        Assert.DoesNotContain((await RunAsync(request with { Episodes = null, Method = "evaluate" })).Results, r => r.FromCache); // not an episode run
    }

    [Fact]
    public async Task ACancelledRun_Resumes_PlayingOnlyTheMissingEpisodes_WithTheStoredSettings_AndTheKeyFromItsVariable()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        await using var temp = new TempStore();
        await using var store = await temp.OpenAsync();
        var runner = EvaluationRunner.Create(env, store);
        var variable = $"AFFINETES_TEST_KEY_{Guid.NewGuid():N}";
        System.Environment.SetEnvironmentVariable(variable, "sk-from-variable");
        try
        {
            var run = await runner.StartAsync(new EvaluationRequest
            {
                TaskIds = EvalHostFixture.Tasks(1, 30),
                Concurrency = 2,
                Episodes = fixture.Settings(maxSteps: 12) with { ApiKey = null, ApiKeyVariable = variable },
            });
            using var cancel = new CancellationTokenSource();
            var seen = 0;
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Run(async () =>
            {
                await foreach (var _ in run.ResultsAsync(cancel.Token))
                {
                    if (++seen == 4)
                    {
                        await cancel.CancelAsync();
                    }
                }
            }).Within());
            var done = (await store.GetResultsAsync(run.Id)).Select(r => r.TaskId).ToHashSet();
            Assert.InRange(done.Count, 4, 29);
            Assert.Equal(0, await fixture.OpenEpisodesAsync()); // the episodes cut short were stopped

            System.Environment.SetEnvironmentVariable(variable, null);
            var refused = await Assert.ThrowsAsync<EvaluationOptionsException>(() => runner.ResumeAsync(run.Id));
            Assert.Equal($"run {run.Id} plays episodes and cannot resume: no API key for the model: set EpisodeSettings.ApiKey or ${variable} " +
                "(any non-empty value does for a local endpoint that takes none)", refused.Message);

            System.Environment.SetEnvironmentVariable(variable, "sk-from-variable");
            var before = fixture.Model.Requests.Count;
            var resumed = await runner.ResumeAsync(run.Id);
            Assert.Equal((EpisodeSettings.MethodName, 12, variable, 30 - done.Count), (resumed.Request.Method, resumed.Request.Episodes!.MaxSteps, resumed.Request.Episodes.ApiKeyVariable, resumed.ToRun));
            var after = await EvalHostFixture.ReadAllAsync(resumed);
            Assert.Empty(after.Select(r => r.TaskId).Intersect(done));
            Assert.All(after, r => Assert.True(r.Completed && r.Success, r.Error));
            Assert.All(fixture.Model.Requests.Skip(before), r => Assert.Equal("Bearer sk-from-variable", r.Authorization));
            var info = await store.GetRunAsync(run.Id);
            Assert.Equal((RunStatus.Completed, 30), (info!.Status, info.ResultCount));
        }
        finally
        {
            System.Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task EpisodeMode_RefusesSettingsThatCannotWork_SayingHowToFixThem()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        var runner = EvaluationRunner.Create(env);
        async Task<string> RefusedAsync(EvaluationRequest request) => (await Assert.ThrowsAsync<EvaluationOptionsException>(() => runner.StartAsync(request))).Message;
        var request = new EvaluationRequest { TaskIds = [1], Episodes = fixture.Settings() };

        Assert.Equal("episode max steps is 0; use 1 to 100000", await RefusedAsync(request with { Episodes = fixture.Settings(maxSteps: 0) }));
        Assert.Equal("the model's base URL 'llm.local' is not an http(s) URL; give its API root, e.g. https://llm.chutes.ai/v1",
            await RefusedAsync(request with { Episodes = request.Episodes! with { BaseUrl = "llm.local" } }));
        Assert.Equal($"no API key for the model: set EpisodeSettings.ApiKey or $AFFINETES_NO_SUCH_VARIABLE (any non-empty value does for a local endpoint that takes none)",
            await RefusedAsync(request with { Episodes = request.Episodes! with { ApiKey = null, ApiKeyVariable = "AFFINETES_NO_SUCH_VARIABLE" } }));
        Assert.Equal("in episode mode each task is an episode (reset, step, stop), not a call of 'score'; leave Method unset, or leave Episodes unset to call score",
            await RefusedAsync(request with { Method = "score" }));
        Assert.Equal("the seed kwarg is seven; in episode mode it goes to reset as an integer (leave it out: each task's seed is then its id)",
            await RefusedAsync(request with { Kwargs = new Dictionary<string, object?> { ["seed"] = "seven" } }));
        Assert.Equal("kwargs contain '_episode', which the runner keeps the episode settings in; rename it",
            await RefusedAsync(new EvaluationRequest { TaskIds = [1], Kwargs = new Dictionary<string, object?> { ["_episode"] = 1 } }));
        Assert.DoesNotContain("sk-test", request.Episodes!.ToString());
    }
}
