using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Evaluation;

namespace Affinetes.ValidatorClient.Tests.Episodes;

/// <summary>
/// What can go wrong in an episode, each its own result while the run goes on (the shapes environment chooses its
/// answers by task id; the model its reply): the failure's kind, its reason, and the steps it got, scored 0.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class EpisodeRunnerFailureTests(ShapesHostFixture fixture) : IClassFixture<ShapesHostFixture>
{
    private static EpisodeSettings Settings(LocalLlmServer model, int maxSteps = 30) =>
        new() { BaseUrl = model.BaseUrl.ToString(), Model = "m", ApiKey = "sk-test", MaxSteps = maxSteps };

    /// <summary>By task: 7 answers nothing, 8 a megabyte, 9 its endpoint fails; any other a word.</summary>
    private static LlmReply Reply(ChatRequest request) => (Players.ShapesTask(request) % 100) switch
    {
        17 => LlmReply.Text(""),
        18 => LlmReply.Text(new string('x', 1024 * 1024)),
        19 => LlmReply.Error(400, "the model does not exist", "invalid_request_error", "model_not_found"),
        _ => LlmReply.Text("move"),
    };

    [Fact]
    public async Task EveryBadInput_FailsItsOwnEpisode_WithAClearReason_AndTheRunGoesOn()
    {
        await using var model = await LocalLlmServer.StartAsync(Reply);
        await using var env = await fixture.Hosts.LoadAsync();
        var before = await fixture.Hosts.CallHostAsync(0, "counts");
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest
        {
            TaskIds = [10, 13, 14, 15, 16, 17, 18, 19],
            Concurrency = 8,
            Episodes = Settings(model),
        });
        var results = (await EvalHostFixture.ReadAllAsync(run)).ToDictionary(r => r.TaskId);
        Assert.Equal(8, results.Count);

        var fine = results[10];
        Assert.True(fine.Completed, fine.Error);
        Assert.Equal((2.0, true, "done", 3), (fine.Score, fine.Success, fine.Value!.Value.GetProperty("stop_reason").GetString(), fine.Value.Value.GetProperty("steps").GetInt32()));

        void Failed(long task, TaskErrorKind kind, string reason, int steps, bool reset = true)
        {
            var r = results[task];
            Assert.True(r.ErrorKind == kind, $"task {task}: {r.ErrorKind} {r.Error}");
            Assert.Contains(reason, r.Error);
            Assert.Equal((0.0, false), (r.Score, r.Success));
            var value = r.Value!.Value;
            Assert.Equal((TaskErrorKinds.Name(kind), steps, 0.0, false), (value.GetProperty("stop_reason").GetString(), value.GetProperty("steps").GetInt32(),
                value.GetProperty("score").GetDouble(), value.GetProperty("success").GetBoolean()));
            Assert.Equal(reset ? JsonValueKind.Object : JsonValueKind.Null, value.GetProperty("reset").ValueKind);
        }

        Failed(13, TaskErrorKind.EpisodeError, "answered no episode id (looked at episode_id, info.episode_id and info.ident.episode_id", 0, reset: false);
        Failed(14, TaskErrorKind.EpisodeError, "reset answered \"not an OpenEnv response\", not an OpenEnv response object", 0, reset: false);
        Failed(15, TaskErrorKind.EpisodeLost, "answered that it does not know the episode (info.error.type episode_not_found", 0);
        Failed(16, TaskErrorKind.ActorError, "step raised ValueError: the environment cannot take action 'move'", 0);
        Failed(17, TaskErrorKind.ModelError, "the model m answered nothing (empty content, finish reason stop): no action to send", 0);
        Failed(18, TaskErrorKind.ModelError, "the model m replied 1,048,576 characters, over the action limit of 32,768 (EpisodeSettings.MaxActionChars); it was not sent to the environment", 0);
        Failed(19, TaskErrorKind.ModelError, "answered 400", 0);
        Assert.Equal(1, results[19].Attempts); // a model that does not exist is not tried again
        Assert.Equal((1L, 1L), (results[19].LlmUsage!.Requests, results[19].LlmUsage!.Errors));
        Assert.Equal((1L, 0L), (results[18].LlmUsage!.Requests, results[18].LlmUsage!.Errors));

        // The environment saw 5 steps (3 of task 10, one each of 15 and 16: not the megabyte), and every episode it
        // still held was closed (it has no stop): those of 10, 16, 17, 18 and 19; 15 it had forgotten itself.
        var after = await fixture.Hosts.CallHostAsync(0, "counts");
        Assert.Equal((5, 5), (after.GetProperty("steps").GetInt32() - before.GetProperty("steps").GetInt32(),
            after.GetProperty("closes").GetInt32() - before.GetProperty("closes").GetInt32()));
    }

    [Fact]
    public async Task MaxSteps_EndsAnEpisodeStillOpen_AsAResultWithTheRewardSoFar()
    {
        await using var model = await LocalLlmServer.StartAsync(Reply);
        await using var env = await fixture.Hosts.LoadAsync();
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest { TaskIds = [20], Episodes = Settings(model, maxSteps: 2) });
        var result = Assert.Single(await EvalHostFixture.ReadAllAsync(run));
        Assert.True(result.Completed, result.Error);
        var value = result.Value!.Value;
        Assert.Equal((1.0, false, "max_steps", 2, false), (result.Score, result.Success, value.GetProperty("stop_reason").GetString(),
            value.GetProperty("steps").GetInt32(), value.GetProperty("done").GetBoolean()));
    }

    [Fact]
    public async Task TheTaskTimeout_BoundsTheWholeEpisode_AndTheStepsSoFarAreKept()
    {
        await using var model = await LocalLlmServer.StartAsync(_ => LlmReply.Text("slow move") with { Delay = TimeSpan.FromMilliseconds(700) });
        await using var env = await fixture.Hosts.LoadAsync();
        var closes = (await fixture.Hosts.CallHostAsync(0, "counts")).GetProperty("closes").GetInt32();
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest
        {
            TaskIds = [21],
            Episodes = Settings(model),
            TaskTimeout = TimeSpan.FromSeconds(1.2),
        });
        var result = Assert.Single(await EvalHostFixture.ReadAllAsync(run));
        Assert.Equal(TaskErrorKind.Deadline, result.ErrorKind);
        Assert.StartsWith("episode of task 21 (", result.Error);
        Assert.EndsWith("steps played) did not answer within 1.2 s", result.Error);
        var value = result.Value!.Value;
        Assert.Equal(("deadline", false), (value.GetProperty("stop_reason").GetString(), value.GetProperty("done").GetBoolean()));
        Assert.InRange(value.GetProperty("steps").GetInt32(), 0, 1);
        Assert.Equal(closes + 1, (await fixture.Hosts.CallHostAsync(0, "counts")).GetProperty("closes").GetInt32()); // stopped after its time
    }
}
