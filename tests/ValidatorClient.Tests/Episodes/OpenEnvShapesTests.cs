using Affinetes.Testing;
using Affinetes.ValidatorClient.Episodes;

namespace Affinetes.ValidatorClient.Tests.Episodes;

/// <summary>One host serving <c>Envs/openenv_shapes_env.py</c>: every shape of answer, chosen by task id.</summary>
public sealed class ShapesHostFixture : IAsyncLifetime
{
    public EpisodeHosts Hosts { get; private set; } = null!;

    public async Task InitializeAsync() => Hosts = await EpisodeHosts.StartAsync("openenv_shapes_env.py", 1);

    public async Task DisposeAsync() => await Hosts.DisposeAsync();
}

/// <summary>The answers of interactive environments as the original's client reads them, and what it does not accept.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class OpenEnvShapesTests(ShapesHostFixture fixture) : IClassFixture<ShapesHostFixture>
{
    [Theory]
    [InlineData(10)] // top level
    [InlineData(11)] // info.episode_id
    [InlineData(12)] // info.ident.episode_id
    public async Task EpisodeId_IsFoundWhereTheOriginalsClientLooks_AndStepsCarryIt(long taskId)
    {
        await using var env = await fixture.Hosts.LoadAsync();
        await using var episode = await env.OpenEnv().ResetAsync(taskId).Within();
        Assert.Matches("^[0-9a-f]{32}$", episode.EpisodeId);
        Assert.Equal($"task {taskId}: reply with anything", episode.Reset.ObservationText);
        var step = await episode.StepAsync("hello").Within();
        Assert.Equal((0.5, false, false, 1), (step.Reward, step.Done, step.Truncated, step.Info.GetProperty("steps").GetInt32()));
        Assert.Equal("hello", step.Info.GetProperty("echo").GetString());
    }

    [Fact]
    public async Task Reset_WithoutAnEpisodeId_FailsSayingWhereItLooked()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        var error = await Assert.ThrowsAsync<OpenEnvAnswerException>(() => env.OpenEnv().ResetAsync(13).Within());
        Assert.Equal("reset", error.Method);
        Assert.Equal($"reset on {env.Replicas[0].Description} answered no episode id (looked at episode_id, info.episode_id and info.ident.episode_id; " +
            "the answer has observation, reward, done, truncated, episode_id, info; info has task_id, seed); an interactive environment's reset must name the episode it opened", error.Message);
        Assert.Equal(0, env.OpenEnv().OpenEpisodes.Single().Open);
    }

    [Fact]
    public async Task Reset_AnsweringAString_FailsAsNotAnOpenEnvResponse()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        var error = await Assert.ThrowsAsync<OpenEnvAnswerException>(() => env.OpenEnv().ResetAsync(14).Within());
        Assert.Equal("reset answered \"not an OpenEnv response\", not an OpenEnv response object (observation, reward, done, truncated, episode_id, info)", error.Message);
    }

    [Fact]
    public async Task AnEpisodeTheEnvironmentNoLongerKnows_IsLost_NotSilentlyDone()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        await using var episode = await env.OpenEnv().ResetAsync(15).Within();
        var lost = await Assert.ThrowsAsync<EpisodeLostException>(() => episode.StepAsync("x").Within());
        Assert.Contains("answered that it does not know the episode (info.error.type episode_not_found", lost.Message);
        Assert.True(episode.IsEnded);
    }

    [Fact]
    public async Task Stop_FallsBackToClose_WhenTheEnvironmentHasNoStop()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        var closes = (await fixture.Hosts.CallHostAsync(0, "counts")).GetProperty("closes").GetInt32();
        var episode = await env.OpenEnv().ResetAsync(20).Within();
        var answer = await episode.StopAsync().Within();
        Assert.True(answer!.Value.GetProperty("closed").GetBoolean());
        await episode.DisposeAsync();
        Assert.Equal(closes + 1, (await fixture.Hosts.CallHostAsync(0, "counts")).GetProperty("closes").GetInt32());
    }
}

/// <summary>The original's own number_guess (test data, unchanged) over three replicas: every episode is played to its end.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class OriginalNumberGuessTests
{
    [Fact]
    public async Task TheOriginalsNumberGuess_OverThreeReplicas_PlaysEveryEpisodeToItsEnd()
    {
        await using var hosts = await EpisodeHosts.StartAsync("original_number_guess_env.py", 3, ("CHUTES_API_KEY", "unused"));
        await using var env = await hosts.LoadAsync();
        var results = await Task.WhenAll(Enumerable.Range(1, 12).Select(async i =>
        {
            await using var episode = await env.OpenEnv().ResetAsync(taskId: i, seed: i);
            Assert.Equal(i, episode.Reset.Info.GetProperty("task_id").GetInt32());
            return await EpisodeHosts.BinarySearchAsync(episode, 1, 1000, step => Assert.Null(step.ErrorType));
        })).Within(TimeSpan.FromSeconds(60), "12 episodes of number_guess");
        Assert.All(results, r => Assert.True(r.Last.Done && r.Last.Reward == 1.0 && r.Steps <= 10, r.Last.Raw.GetRawText()));
        Assert.All(env.GetStats(), s => Assert.True(s.Requests >= 4, $"{s.Description} served {s.Requests} calls")); // every replica served episodes
    }
}
