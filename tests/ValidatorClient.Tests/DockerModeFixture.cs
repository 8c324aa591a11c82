using Affinetes.Injector.Building;
using Affinetes.Injector.Sources;
using Affinetes.Protocol;
using Affinetes.Testing;
using Docker.DotNet.Models;
using Docker.DotNet;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>Images built once by the real Injector for the Docker-mode tests, removed at the end.</summary>
public sealed class DockerModeFixture : IAsyncLifetime
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-client-images-");
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..10];

    public DockerClient Docker { get; } = Testing.DockerEngine.CreateClient();

    /// <summary>environments/python-arith, the example evaluation environment.</summary>
    public string ArithImage => $"affinetes-test/client-arith:{_suffix}";

    /// <summary>The client test environment (echo, sleep, environment, fail).</summary>
    public string ClientImage => $"affinetes-test/client-env:{_suffix}";

    /// <summary>Tries each thing the hardened profile forbids and reports the OS error (Envs/hardening_env.py).</summary>
    public string HardeningImage => $"affinetes-test/client-hardening:{_suffix}";

    /// <summary>Its env.py writes to /var/lib/state when imported: it needs a writable path.</summary>
    public string WritingImage => $"affinetes-test/client-writing:{_suffix}";

    /// <summary>Its Actor's constructor raises.</summary>
    public string BrokenImage => $"affinetes-test/client-broken:{_suffix}";

    /// <summary>Its process exits with code 7 while constructing the Actor.</summary>
    public string ExitingImage => $"affinetes-test/client-exiting:{_suffix}";

    public async Task InitializeAsync()
    {
        await Testing.DockerEngine.RequireImageAsync(Docker, Testing.DockerEngine.PythonBaseImage);
        var builder = new ImageBuilder(Docker);
        await Build(builder, Path.Combine(RepositoryRoot.Path, "environments", "python-arith"), ArithImage);
        await Build(builder, Environment(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Envs", "client_env.py")), "client"), ClientImage);
        await Build(builder, Environment(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Envs", "hardening_env.py")), "hardening"), HardeningImage);
        await Build(builder, Environment("import os\nos.makedirs('/var/lib/state', exist_ok=True)\nwith open('/var/lib/state/state.txt', 'w') as f:\n    f.write('written')\nclass Actor:\n    def state(self):\n        with open('/var/lib/state/state.txt') as f:\n            return f.read()\n", "writing"), WritingImage);
        await Build(builder, Environment("class Actor:\n    def __init__(self):\n        raise RuntimeError('no API key configured')\n    def ping(self):\n        return 1\n", "broken"), BrokenImage);
        await Build(builder, Environment("import os\nclass Actor:\n    def __init__(self):\n        print('giving up now', flush=True)\n        os._exit(7)\n    def ping(self):\n        return 1\n", "exiting"), ExitingImage);
    }

    private static Task Build(ImageBuilder builder, string directory, string tag) =>
        builder.BuildAsync(EnvironmentSource.Parse(directory), new BuildOptions { Tag = tag, Quiet = true }).Within(TimeSpan.FromMinutes(5), $"building {tag}");

    private string Environment(string envPy, string name)
    {
        var dir = Path.Combine(_work.FullName, name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "env.py"), envPy);
        File.WriteAllText(Path.Combine(dir, "Dockerfile"), "FROM python:3.11-slim\nCOPY env.py /app/env.py\n");
        return dir;
    }

    /// <summary>Containers labelled as ours for <paramref name="image"/>, running or not.</summary>
    public async Task<IList<ContainerListResponse>> ContainersOfAsync(string image) =>
        await Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{ContainerLabels.Image}={image}"] = true },
            },
        });

    public async Task DisposeAsync()
    {
        foreach (var image in new[] { ArithImage, ClientImage, HardeningImage, WritingImage, BrokenImage, ExitingImage })
        {
            foreach (var container in await ContainersOfAsync(image))
            {
                await Docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true });
            }
            try
            {
                await Docker.Images.DeleteImageAsync(image, new ImageDeleteParameters { Force = true, NoPrune = true });
            }
            catch (DockerApiException)
            {
            }
        }
        Docker.Dispose();
        _work.Delete(recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class DockerModeCollection : ICollectionFixture<DockerModeFixture>
{
    public const string Name = "client-docker";
}
