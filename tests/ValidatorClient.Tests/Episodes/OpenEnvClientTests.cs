using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Episodes;
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
