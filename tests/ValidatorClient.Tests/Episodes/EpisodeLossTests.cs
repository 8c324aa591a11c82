using Affinetes.Testing;
using Affinetes.ValidatorClient.Episodes;
using Affinetes.ValidatorClient.Evaluation;

namespace Affinetes.ValidatorClient.Tests.Episodes;

/// <summary>
/// A replica killed while its episodes are open (url mode: the server is gone, nothing replaces it): they fail as lost,
/// naming episode and replica, through the episode client and as results of the runner; the others finish.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class EpisodeLossTests
{
    [Fact]
    public async Task ReplicaKilledMidRun_ItsEpisodesFailAsLost_TheOthersFinish_AndNothingIsSentElsewhere()
    {
        await using var hosts = await EpisodeHosts.StartAsync("python_guess_env.py", 3);
        await using var env = await hosts.LoadAsync(readyTimeout: TimeSpan.FromSeconds(5));
        var episodes = await Task.WhenAll(Enumerable.Range(1, 30).Select(i => env.OpenEnv().ResetAsync(taskId: i))).Within(what: "30 resets");
        foreach (var episode in episodes)
        {
            await episode.StateAsync().Within(); // each has been called on its replica before the kill
        }
        var killed = env.Replicas[1];
        hosts.Hosts[1].SendSigkill();
        await hosts.Hosts[1].WaitForExitAsync(TimeSpan.FromSeconds(10));

        var outcomes = await Task.WhenAll(episodes.Select(async e =>
        {
            try
            {
                var (_, last) = await EpisodeHosts.BinarySearchAsync(e, 1, 100);
                return (Episode: e, Error: (Exception?)null, Last: (StepResult?)last);
            }
            catch (EpisodeLostException lost)
            {
                return (Episode: e, Error: (Exception?)lost, Last: (StepResult?)null);
            }
        })).Within(TimeSpan.FromSeconds(60), "the episodes after the kill");

        var onKilled = outcomes.Where(o => o.Episode.Replica == killed).ToList();
        Assert.Equal(10, onKilled.Count);
        Assert.All(onKilled, o =>
        {
            var lost = Assert.IsType<EpisodeLostException>(o.Error);
            Assert.Equal((o.Episode.EpisodeId, killed), (lost.EpisodeId, lost.Replica));
            Assert.Equal($"episode {o.Episode.EpisodeId} lost: replica {killed.Description} cannot be reached (Connection refused (127.0.0.1:{killed.BaseUrl.Port})); " +
                "the episode lived in its memory alone (start a new one)", lost.Message);
            Assert.True(lost.IsRetryable);
            Assert.True(o.Episode.IsEnded);
        });
        Assert.All(outcomes.Where(o => o.Episode.Replica != killed), o => Assert.True(o.Error is null && o.Last!.Reward == 1.0, $"{o.Error?.Message}"));

        // A lost episode stays lost without a call; disposing it says nothing.
        var requests = env.GetStats().Sum(s => s.Requests);
        var again = await Assert.ThrowsAsync<EpisodeLostException>(() => onKilled[0].Episode.StepAsync("1"));
        Assert.Equal(onKilled[0].Episode.EpisodeId, again.EpisodeId);
        foreach (var episode in episodes)
        {
            await episode.DisposeAsync().AsTask().Within();
        }
        // The survivors' steps and stops were theirs: nothing of the lost episodes went to another replica.
        var survivors = await Task.WhenAll(new[] { 0, 2 }.Select(i => hosts.CallHostAsync(i, "stats")));
        Assert.All(survivors, s => Assert.Equal((10, 10, 0), (s.GetProperty("started").GetInt32(), s.GetProperty("stopped").GetInt32(), s.GetProperty("open").GetInt32())));
        Assert.Equal(requests + 20, env.GetStats().Sum(s => s.Requests)); // the 20 stops
    }

    [Fact]
    public async Task InTheRunner_AReplicaKilledMidRun_LosesItsEpisodesAsResults_TheOthersComplete()
    {
        await using var hosts = await EpisodeHosts.StartAsync("python_guess_env.py", 3);
        var firstMoves = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var model = await LocalLlmServer.StartAsync(request => Players.BinarySearch(request) with { Hold = firstMoves.Task });
        await using var env = await hosts.LoadAsync(readyTimeout: TimeSpan.FromSeconds(5));
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest
        {
            TaskIds = EvalHostFixture.Tasks(1, 30),
            Concurrency = 30,
            Episodes = new EpisodeSettings { BaseUrl = model.BaseUrl.ToString(), Model = "guesser", ApiKey = "sk-test" },
        });
        var reading = EvalHostFixture.ReadAllAsync(run);
        // Every episode opened and waiting for the model's first move: then a replica dies.
        await Bounded.Until(() => Task.FromResult(model.Requests.Count == 30), TimeSpan.FromSeconds(30), "30 episodes waiting for their first move");
        var killed = env.Replicas[1];
        hosts.Hosts[1].SendSigkill();
        await hosts.Hosts[1].WaitForExitAsync(TimeSpan.FromSeconds(10));
        firstMoves.SetResult();
        var results = await reading;

        Assert.Equal(30, results.Count);
        var lost = results.Where(r => r.ErrorKind == TaskErrorKind.EpisodeLost).ToList();
        Assert.Equal(10, lost.Count);
        Assert.All(lost, r =>
        {
            var value = r.Value!.Value;
            Assert.Equal(("episode_lost", 0), (value.GetProperty("stop_reason").GetString(), value.GetProperty("steps").GetInt32()));
            Assert.Equal($"episode {value.GetProperty("episode_id").GetString()} lost: replica {killed.Description} cannot be reached (Connection refused (127.0.0.1:{killed.BaseUrl.Port})); the episode lived in its memory alone (start a new one)", r.Error);
        });
        Assert.All(results.Except(lost), r => Assert.True(r.Completed && r.Success, r.Error));
    }
}
