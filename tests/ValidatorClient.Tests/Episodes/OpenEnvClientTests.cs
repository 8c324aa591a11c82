using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Episodes;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Telemetry;

namespace Affinetes.ValidatorClient.Tests.Episodes;

/// <summary>Three host processes serving environments/python-guess, shared by the tests that do not kill one.</summary>
public sealed class GuessHostsFixture : IAsyncLifetime
{
    public EpisodeHosts Hosts { get; private set; } = null!;

    public async Task InitializeAsync() => Hosts = await EpisodeHosts.StartAsync("python_guess_env.py", 3);

    public async Task DisposeAsync() => await Hosts.DisposeAsync();
}

/// <summary>
/// Episodes through <see cref="IEnvironment.OpenEnv"/> against real hosts (url mode, 127.0.0.1): pinned to the replica
/// that answered reset, spread by open episodes, lost with their replica, stopped once.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class OpenEnvClientTests(GuessHostsFixture fixture) : IClassFixture<GuessHostsFixture>
{
    private static string ReplicaMarker(StepResult result) => result.Info.GetProperty("replica").GetString()!;

    [Fact]
    public async Task ThirtyEpisodesAtOnce_OverThreeReplicas_SpreadByOpenEpisodes_EveryStepReachingTheReplicaThatOpenedIt()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        var openEnv = env.OpenEnv();
        Assert.Same(openEnv, env.OpenEnv());

        var episodes = await Task.WhenAll(Enumerable.Range(1, 30).Select(i => openEnv.ResetAsync(taskId: i))).Within(what: "30 resets");
        Assert.Equal([10, 10, 10], openEnv.OpenEpisodes.Select(r => r.Open));
        // One process (replica marker) per endpoint: the pool's view and the environment's agree.
        var markers = episodes.GroupBy(e => e.Replica).ToDictionary(g => g.Key, g => g.Select(e => ReplicaMarker(e.Reset)).Distinct().Single());
        Assert.Equal(3, markers.Values.Distinct().Count());

        var played = await Task.WhenAll(episodes.Select(async e =>
        {
            var opened = ReplicaMarker(e.Reset);
            var (steps, last) = await EpisodeHosts.BinarySearchAsync(e, 1, 100,
                step => Assert.True(ReplicaMarker(step) == opened, $"a step of {e.EpisodeId} reached {ReplicaMarker(step)}, not {opened} where it was opened"));
            await e.DisposeAsync();
            return (steps, last);
        })).Within(TimeSpan.FromSeconds(60), "30 episodes played");

        Assert.All(played, p => Assert.True(p.last.Done && p.last.Reward == 1.0 && p.steps <= 7, $"{p.steps} steps, last {p.last.Raw}"));
        Assert.All(episodes, e => Assert.True(e.IsEnded));
        Assert.Equal([0, 0, 0], openEnv.OpenEpisodes.Select(r => r.Open));
    }

    [Fact]
    public async Task StepAfterStop_FailsWithoutACall_AndStopAndDisposeAreIdempotent()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        var episode = await env.OpenEnv().ResetAsync(taskId: 4, seed: 9).Within();
        Assert.Equal(9, episode.Reset.Info.GetProperty("seed").GetInt32());
        var stopped = await episode.StopAsync().Within();
        Assert.True(stopped!.Value.GetProperty("stopped").GetBoolean());
        var requests = env.GetStats().Sum(s => s.Requests);

        var refused = await Assert.ThrowsAsync<EpisodeStoppedException>(() => episode.StepAsync("50"));
        Assert.Equal($"episode {episode.EpisodeId} was stopped; step was not sent (start a new episode with ResetAsync)", refused.Message);
        await Assert.ThrowsAsync<EpisodeStoppedException>(() => episode.StateAsync());
        Assert.Null(await episode.StopAsync().Within());
        await episode.DisposeAsync();
        Assert.Equal(requests, env.GetStats().Sum(s => s.Requests));
    }

    [Fact]
    public async Task Dispose_StopsTheEpisodeOnItsReplica()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        var before = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => fixture.Hosts.CallHostAsync(i, "stats")));
        await using (var episode = await env.OpenEnv().ResetAsync(taskId: 1).Within())
        {
            var state = await episode.StateAsync().Within();
            Assert.Equal("0 of 7 guesses used.", state.ObservationText);
            Assert.Same(state, episode.Last);
        }
        var after = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => fixture.Hosts.CallHostAsync(i, "stats")));
        Assert.Equal(1, after.Sum(s => s.GetProperty("stopped").GetInt32()) - before.Sum(s => s.GetProperty("stopped").GetInt32()));
        Assert.Equal(before.Sum(s => s.GetProperty("open").GetInt32()), after.Sum(s => s.GetProperty("open").GetInt32()));
    }

    [Fact]
    public async Task OpenEpisodes_AreReportedAsAGauge()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        var seen = new ConcurrentDictionary<string, int>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == AffinetesTelemetry.Name && instrument.Name == AffinetesTelemetry.EpisodesOpen)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "affinetes.environment" && tag.Value as string == env.Name)
                {
                    seen[env.Name] = value;
                }
            }
        });
        listener.Start();
        var episodes = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => env.OpenEnv().ResetAsync(taskId: i))).Within();
        listener.RecordObservableInstruments();
        Assert.Equal(4, seen[env.Name]);
        foreach (var episode in episodes)
        {
            await episode.DisposeAsync();
        }
        listener.RecordObservableInstruments();
        Assert.Equal(0, seen[env.Name]);
    }

    [Fact]
    public async Task Reset_KeywordsItSendsItself_AreRefusedAsKwargs()
    {
        await using var env = await fixture.Hosts.LoadAsync();
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => env.OpenEnv().ResetAsync(kwargs: new Dictionary<string, object?> { ["seed"] = 3 }));
        Assert.StartsWith("kwargs name 'seed', which ResetAsync sends itself; pass it as the seed parameter", refused.Message);
    }
}

/// <summary>A replica killed while its episodes are open: they fail as lost, naming episode and replica; the others finish.</summary>
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
