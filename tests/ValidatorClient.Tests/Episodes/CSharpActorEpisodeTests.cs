using Affinetes.Testing;

namespace Affinetes.ValidatorClient.Tests.Episodes;

/// <summary>A C# actor answering with <c>Affinetes.Actors.OpenEnvResponse</c> is played like a Python one.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class CSharpActorEpisodeTests : IAsyncLifetime
{
    private readonly DirectoryInfo _cache = Directory.CreateTempSubdirectory("affinetes-episode-cs-cache-");
    private EpisodeHosts _hosts = null!;

    public async Task InitializeAsync() =>
        _hosts = await EpisodeHosts.StartAsync(Path.Combine("csharp_guess", "Actor.cs"), 2, ("AFFINETES_CACHE_DIR", _cache.FullName));

    public async Task DisposeAsync()
    {
        await _hosts.DisposeAsync();
        _cache.Delete(recursive: true);
    }

    [Fact]
    public async Task ACSharpActorsEpisodes_ArePinned_AndReadAsOpenEnvResponses()
    {
        await using var env = await _hosts.LoadAsync();
        var results = await Task.WhenAll(Enumerable.Range(1, 6).Select(async i =>
        {
            await using var episode = await env.OpenEnv().ResetAsync(taskId: i, seed: 3);
            Assert.Equal(("Guess an integer between 1 and 100.", 0.0, false, false), (episode.Reset.ObservationText, episode.Reset.Reward, episode.Reset.Done, episode.Reset.Truncated));
            Assert.Equal(["replica", "task_id", "seed", "guesses_left"], episode.Reset.Info.EnumerateObject().Select(p => p.Name));
            Assert.Equal(["observation", "reward", "done", "truncated", "episode_id", "info"], episode.Reset.Raw.EnumerateObject().Select(p => p.Name));
            var replica = episode.Reset.Info.GetProperty("replica").GetString();
            return await EpisodeHosts.BinarySearchAsync(episode, 1, 100, step => Assert.Equal(replica, step.Info.GetProperty("replica").GetString()));
        })).Within(TimeSpan.FromSeconds(60), "episodes of the C# actor");
        Assert.All(results, r => Assert.True(r.Last.Done && r.Last.Reward == 1.0, r.Last.Raw.GetRawText()));
        var open = await Task.WhenAll(Enumerable.Range(0, 2).Select(async i => (await _hosts.CallHostAsync(i, "open")).GetInt32()));
        Assert.Equal([0, 0], open);
    }
}
