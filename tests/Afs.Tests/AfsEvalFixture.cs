using Affinetes.Injector.Building;
using Affinetes.Injector.Sources;
using Affinetes.Testing;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.Afs.Tests;

/// <summary>
/// The images of the afs eval/score/validate tests, built once: python-arith (the README's example, evaluated with
/// the offline baseline) and the eval-actor test environment in three behaviours. At the end every container of these
/// images and the images themselves are removed.
/// </summary>
public sealed class AfsEvalFixture : IAsyncLifetime
{
    private readonly string _id = Guid.NewGuid().ToString("N")[..10];

    public DockerClient Docker { get; } = DockerEngine.CreateClient();

    public string Arith => $"affinetes-test/eval-arith:{_id}";
    public string Good => $"affinetes-test/eval-good:{_id}";
    public string Random => $"affinetes-test/eval-random:{_id}";
    public string Raising => $"affinetes-test/eval-raise:{_id}";

    public async Task InitializeAsync()
    {
        await DockerEngine.RequireImageAsync(Docker, DockerEngine.PythonBaseImage);
        var builder = new ImageBuilder(Docker);
        await builder.BuildAsync(EnvironmentSource.Parse(Path.Combine(RepositoryRoot.Path, "environments", "python-arith")),
            new BuildOptions { Tag = Arith, Quiet = true }).Within(TimeSpan.FromMinutes(5), "building environments/python-arith");
        var actor = EnvironmentSource.Parse(Path.Combine(AppContext.BaseDirectory, "Envs", "eval-actor"));
        foreach (var (tag, behaviour) in new[] { (Good, "good"), (Random, "random"), (Raising, "raise") })
        {
            await builder.BuildAsync(actor, new BuildOptions { Tag = tag, Quiet = true, BuildArgs = new Dictionary<string, string> { ["BEHAVIOUR"] = behaviour } })
                .Within(TimeSpan.FromMinutes(3), $"building eval-actor ({behaviour})");
        }
    }

    public async Task DisposeAsync()
    {
        var images = new[] { Arith, Good, Random, Raising };
        var containers = await Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true });
        foreach (var container in containers.Where(c => images.Contains(c.Image)))
        {
            await DockerEngine.RemoveContainerQuietlyAsync(Docker, container.ID);
        }
        foreach (var image in images)
        {
            await DockerEngine.RemoveImageQuietlyAsync(Docker, image);
        }
        Docker.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class AfsEvalCollection : ICollectionFixture<AfsEvalFixture>
{
    public const string Name = "afs-eval";
}
