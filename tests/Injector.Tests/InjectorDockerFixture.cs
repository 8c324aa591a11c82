using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Affinetes.Injector.Building;
using Affinetes.Injector.Sources;
using Affinetes.Testing;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.Injector.Tests;

/// <summary>The real engine and builder, shared by the Docker tests; removes every image the tests built.</summary>
public sealed class InjectorDockerFixture : IAsyncLifetime
{
    private readonly List<string> _images = [];

    public DockerClient Docker { get; } = DockerEngine.CreateClient();

    public ImageBuilder Builder => new(Docker);

    public async Task InitializeAsync() => await DockerEngine.RequireImageAsync(Docker, DockerEngine.PythonBaseImage);

    public string NewTag(string name)
    {
        var tag = $"affinetes-test/{name}:{Guid.NewGuid():N}"[..Math.Min(80, $"affinetes-test/{name}:{Guid.NewGuid():N}".Length)];
        lock (_images)
        {
            _images.Add(tag);
        }
        return tag;
    }

    public Task<BuildResult> BuildAsync(string source, string tag, BuildOptions? options = null) =>
        Builder.BuildAsync(EnvironmentSource.Parse(source), (options ?? new BuildOptions { Tag = tag }) with { Tag = tag, Quiet = true })
            .Within(TimeSpan.FromMinutes(5), $"building {source}");

    /// <summary>Runs <paramref name="image"/> with its port published on 127.0.0.1 and waits for /ready.</summary>
    public async Task<RunningContainer> RunReadyAsync(string image, IDictionary<string, string>? environment = null)
    {
        var container = await DockerEngine.RunAsync(Docker, image, null, 8000, environment).Within(what: "starting the container");
        await DockerEngine.WaitReadyAsync(container);
        return container;
    }

    public static async Task<JsonElement> CallAsync(RunningContainer container, string method, string json)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.PostAsync($"http://127.0.0.1:{container.HostPort}/{method}", new StringContent(json, Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.IsSuccessStatusCode, $"{method} answered {(int)response.StatusCode}: {body}");
        return body.GetProperty("result");
    }

    public async Task<bool> ImageExistsAsync(string image)
    {
        try
        {
            await Docker.Images.InspectImageAsync(image);
            return true;
        }
        catch (DockerImageNotFoundException)
        {
            return false;
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var image in _images)
        {
            await DockerEngine.RemoveImageQuietlyAsync(Docker, image);
        }
        Docker.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class InjectorDockerCollection : ICollectionFixture<InjectorDockerFixture>
{
    public const string Name = "injector-docker";
}
