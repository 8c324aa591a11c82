using Affinetes.Injector.Building;
using Affinetes.Injector.Sources;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Episodes;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.ValidatorClient.Tests.Episodes;

/// <summary>environments/python-guess built once by the real Injector, its containers and image removed at the end.</summary>
public sealed class GuessImageFixture : IAsyncLifetime
{
    public DockerClient Docker { get; } = DockerEngine.CreateClient();

    public string Image { get; } = $"affinetes-test/episodes-guess:{Guid.NewGuid().ToString("N")[..10]}";

    public async Task InitializeAsync()
    {
        await DockerEngine.RequireImageAsync(Docker, DockerEngine.PythonBaseImage);
        await new ImageBuilder(Docker).BuildAsync(EnvironmentSource.Parse(Path.Combine(RepositoryRoot.Path, "environments", "python-guess")),
            new BuildOptions { Tag = Image, Quiet = true }).Within(TimeSpan.FromMinutes(5), "building environments/python-guess");
    }

    public async Task DisposeAsync()
    {
        var left = await Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Protocol.ContainerLabels.Image}={Image}"] = true } },
        });
        foreach (var container in left)
        {
            await DockerEngine.RemoveContainerQuietlyAsync(Docker, container.ID);
        }
        await DockerEngine.RemoveImageQuietlyAsync(Docker, Image);
        Docker.Dispose();
    }
}

/// <summary>Episodes over docker replicas: a killed container loses its episodes, the pool replaces it, new episodes go to the replacement.</summary>
[Trait(Tiers.Name, Tiers.Docker)]
public sealed class EpisodeDockerTests(GuessImageFixture fixture) : IClassFixture<GuessImageFixture>
{
    [Fact]
    public async Task AContainerKilledMidRun_LosesItsEpisodes_IsReplaced_AndNewEpisodesGoToTheReplacement()
    {
        await using var env = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions { Image = fixture.Image, Replicas = 3 })
            .Within(TimeSpan.FromMinutes(2), "three replicas of python-guess");
        var openEnv = env.OpenEnv();
        var episodes = await Task.WhenAll(Enumerable.Range(1, 30).Select(i => openEnv.ResetAsync(taskId: i))).Within(what: "30 resets");
        Assert.Equal([10, 10, 10], openEnv.OpenEpisodes.Select(r => r.Open));
        foreach (var episode in episodes)
        {
            var state = await episode.StateAsync().Within();
            Assert.Equal(episode.Reset.Info.GetProperty("replica").GetString(), state.Info.GetProperty("replica").GetString());
        }

        var killed = env.Replicas[1];
        await fixture.Docker.Containers.KillContainerAsync(killed.Id, new ContainerKillParameters { Signal = "SIGKILL" }).Within();
        await Bounded.Until(() => Task.FromResult(!env.Replicas.Contains(killed)), TimeSpan.FromSeconds(60), "the killed replica given up");

        var outcomes = await Task.WhenAll(episodes.Select(async e =>
        {
            try
            {
                return (Episode: e, Lost: (EpisodeLostException?)null, Last: (StepResult?)(await EpisodeHosts.BinarySearchAsync(e, 1, 100)).Last);
            }
            catch (EpisodeLostException lost)
            {
                return (Episode: e, Lost: (EpisodeLostException?)lost, Last: (StepResult?)null);
            }
        })).Within(TimeSpan.FromSeconds(60), "the episodes after the kill");
        var onKilled = outcomes.Where(o => o.Episode.Replica == killed).ToList();
        Assert.Equal(10, onKilled.Count);
        Assert.All(onKilled, o => Assert.StartsWith($"episode {o.Episode.EpisodeId} lost: replica {killed.Description} was given up and replaced (", o.Lost!.Message));
        Assert.All(outcomes.Except(onKilled), o => Assert.True(o.Lost is null && o.Last!.Reward == 1.0, o.Lost?.Message));

        // The survivors stay open (10 on each of the two); the replacement holds none, so new episodes go there.
        await Bounded.Until(() => Task.FromResult(env.Replicas.Count == 3), TimeSpan.FromSeconds(90), "the replacement ready");
        var replacement = env.Replicas.Single(r => episodes.All(e => e.Replica != r));
        var fresh = await Task.WhenAll(Enumerable.Range(100, 6).Select(i => openEnv.ResetAsync(taskId: i))).Within(what: "6 resets after the replacement");
        Assert.All(fresh, e => Assert.Equal(replacement, e.Replica));
        foreach (var episode in fresh)
        {
            Assert.Equal(1.0, (await EpisodeHosts.BinarySearchAsync(episode, 1, 100)).Last.Reward);
            await episode.DisposeAsync();
        }
        foreach (var episode in episodes)
        {
            await episode.DisposeAsync();
        }
        Assert.All(openEnv.OpenEpisodes, r => Assert.Equal(0, r.Open));
    }
}
