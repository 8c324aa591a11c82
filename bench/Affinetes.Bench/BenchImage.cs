using Affinetes.Injector.Building;
using Affinetes.Injector.Sources;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.Bench;

/// <summary>An image the Injector built from environments/NAME for one benchmark run; removed on dispose.</summary>
public sealed class BenchImage : IAsyncDisposable
{
    private readonly DockerClient _docker;

    private BenchImage(DockerClient docker, string tag)
    {
        _docker = docker;
        Tag = tag;
    }

    public string Tag { get; }

    public static async Task<BenchImage> BuildAsync(string environment)
    {
        var source = FindEnvironment(environment);
        var tag = $"affinetes-bench/{environment}:{Guid.NewGuid():N}"[..48];
        var docker = new Docker.DotNet.DockerClientBuilder().WithEndpoint(new Uri("unix:///var/run/docker.sock")).Build();
        Console.WriteLine($"== building {source} as {tag}");
        using var building = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await new ImageBuilder(docker).BuildAsync(EnvironmentSource.Parse(source), new BuildOptions { Tag = tag, Quiet = true }, null, building.Token);
        return new BenchImage(docker, tag);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            // Nothing else uses this run's image: its untagged build parents go with it.
            await _docker.Images.DeleteImageAsync(Tag, new ImageDeleteParameters { Force = true });
        }
        catch (DockerApiException e)
        {
            Console.Error.WriteLine($"could not remove {Tag}: {e.Message}");
        }
        _docker.Dispose();
    }

    /// <summary>environments/<paramref name="name"/> of this checkout, found above the benchmark's output directory.</summary>
    private static string FindEnvironment(string name)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "environments", name);
            if (File.Exists(Path.Combine(candidate, "env.py")))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException($"environments/{name} not found above {AppContext.BaseDirectory}");
    }
}
