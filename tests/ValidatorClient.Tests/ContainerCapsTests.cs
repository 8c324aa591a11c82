using System.Globalization;
using Affinetes.Protocol;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>The caps on containers (<see cref="AffinetesClientOptions"/>), observed with real containers.</summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(DockerModeCollection.Name)]
public sealed class ContainerCapsTests(DockerModeFixture fixture)
{
    private static Task<IEnvironment> LoadAsync(IAffinetesClient client, EnvironmentOptions options) =>
        client.LoadEnvAsync(options).Within(TimeSpan.FromMinutes(2), $"loading {options.ContainerName ?? options.Image}");

    private async Task<int> ContainersNamedAsync(string prefix) =>
        (await fixture.ContainersOfAsync(fixture.ClientImage)).Count(c => c.Names.Any(n => n.TrimStart('/').StartsWith(prefix, StringComparison.Ordinal)));

    [Fact]
    public async Task LiveCapPerClient_RefusesTheContainerPastIt_UntilOneIsReleased()
    {
        var client = AffinetesClient.Create(options: new AffinetesClientOptions { MaxLiveContainers = 2 });
        await using var _ = (IAsyncDisposable)client;
        var name = $"cap-client-{Guid.NewGuid():N}"[..22];

        var first = await LoadAsync(client, new EnvironmentOptions { Image = fixture.ClientImage, ContainerName = name + "-a", Replicas = 2 });
        var e = await Assert.ThrowsAsync<ContainerLimitException>(() => LoadAsync(client, new EnvironmentOptions { Image = fixture.ClientImage, ContainerName = name + "-b" }));
        Assert.Equal(nameof(AffinetesClientOptions.MaxLiveContainers), e.Limit);
        Assert.Equal(2, e.Value);
        Assert.Contains("already has 2 live containers", e.Message);
        Assert.Contains("--max-containers", e.Message);
        Assert.Equal(0, await ContainersNamedAsync(name + "-b"));

        // Another client has its own count.
        await using (await LoadAsync(AffinetesClient.Create(), new EnvironmentOptions { Image = fixture.ClientImage, ContainerName = name + "-c" }))
        {
        }

        await first.DisposeAsync();
        await using var second = await LoadAsync(client, new EnvironmentOptions { Image = fixture.ClientImage, ContainerName = name + "-b" });
        Assert.Single(second.Replicas);
    }

    [Fact]
    public async Task LiveCapPerEngine_CountsAffinetesContainersOnTheEngine_AndRefuses()
    {
        var name = $"cap-engine-{Guid.NewGuid():N}"[..22];
        // One of ours runs on the engine (another client's), so an engine cap of 1 is reached whatever else runs.
        await using var running = await LoadAsync(AffinetesClient.Create(), new EnvironmentOptions { Image = fixture.ClientImage, ContainerName = name + "-a" });
        var capped = AffinetesClient.Create(options: new AffinetesClientOptions { MaxLiveContainersPerEngine = 1 });
        await using var _ = (IAsyncDisposable)capped;

        var e = await Assert.ThrowsAsync<ContainerLimitException>(() => LoadAsync(capped, new EnvironmentOptions { Image = fixture.ClientImage, ContainerName = name + "-b" }));
        Assert.Equal(nameof(AffinetesClientOptions.MaxLiveContainersPerEngine), e.Limit);
        Assert.Contains("refused to start a container on local", e.Message);
        Assert.Contains("--max-engine-containers", e.Message);
        Assert.Equal(0, await ContainersNamedAsync(name + "-b"));
    }

    [Fact]
    public async Task CreationRate_SpacesTheCreations_AndSaysWhyItWaits()
    {
        var logs = new List<string>();
        using var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new ListLoggerProvider(logs)));
        // One creation every 2 s, bursts of 1: three replicas started together cannot all be created within one period.
        var client = AffinetesClient.Create(factory, new AffinetesClientOptions { MaxContainerCreationsPerSecond = 0.5 });
        await using var _ = (IAsyncDisposable)client;
        await using var env = await LoadAsync(client, new EnvironmentOptions { Image = fixture.ClientImage, Replicas = 3 });

        var created = new List<DateTimeOffset>();
        foreach (var replica in env.Replicas)
        {
            var inspected = await fixture.Docker.Containers.InspectContainerAsync(replica.Id);
            created.Add(DateTimeOffset.Parse(inspected.Config!.Labels![ContainerLabels.Created], CultureInfo.InvariantCulture));
        }
        created.Sort();
        // A bucket of one token refilled every 2 s hands out three tokens over no less than one full period.
        var span = created[^1] - created[0];
        Assert.True(span >= TimeSpan.FromSeconds(1.9), $"three creations at 0.5/s took only {span.TotalSeconds:0.###} s: {string.Join(", ", created.Select(c => c.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)))}");
        lock (logs)
        {
            Assert.Contains(logs, l => l.StartsWith("4007 Information waiting to create a container on local: at most 0.5 creations per second", StringComparison.Ordinal));
        }
    }
}
