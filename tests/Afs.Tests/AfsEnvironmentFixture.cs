using System.CommandLine;
using System.Diagnostics;
using Affinetes.Injector.Building;
using Affinetes.Injector.Sources;
using Affinetes.Testing;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.Afs.Tests;

/// <summary>
/// One python-arith image built for the afs environment-command tests, removed at the end with every container these
/// tests started (they are all named with <see cref="Prefix"/>, so nothing of anyone else's is touched).
/// </summary>
public sealed class AfsEnvironmentFixture : IAsyncLifetime
{
    /// <summary>Labels the ValidatorClient puts on its containers (ContainerLabels), as a user of the engine sees them.</summary>
    public const string OwnerLabel = "affinetes.owner=affinetes-validator";
    public const string NameLabel = "affinetes.name";

    public DockerClient Docker { get; } = DockerEngine.CreateClient();

    /// <summary>The image under test, <c>affinetes-test/afs-arith:GUID</c>.</summary>
    public string Image { get; } = $"affinetes-test/afs-arith:{Guid.NewGuid():N}";

    /// <summary>Start of every environment name these tests use.</summary>
    public string Prefix { get; } = $"afs-t{Guid.NewGuid().ToString("N")[..6]}-";

    public string NewName(string purpose) => Prefix + purpose;

    public async Task InitializeAsync()
    {
        await DockerEngine.RequireImageAsync(Docker, DockerEngine.PythonBaseImage);
        await new ImageBuilder(Docker).BuildAsync(EnvironmentSource.Parse(Path.Combine(RepositoryRoot.Path, "environments", "python-arith")),
            new BuildOptions { Tag = Image, Quiet = true }).Within(TimeSpan.FromMinutes(5), "building environments/python-arith");
    }

    /// <summary>afs in this process, as <c>afs ARGS</c> with its output captured.</summary>
    public static async Task<(int Exit, string Output, string Error)> AfsAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await AfsCli.RunAsync(args, new InvocationConfiguration { Output = output, Error = error })
            .Within(TimeSpan.FromMinutes(3), "afs " + string.Join(' ', args));
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>Containers on the engine labelled as ours and as environment <paramref name="name"/>, stopped ones included.</summary>
    public async Task<IList<ContainerListResponse>> ContainersOfAsync(string name) =>
        await Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [OwnerLabel] = true, [$"{NameLabel}={name}"] = true },
            },
        }).Within(what: "listing containers");

    /// <summary><c>dotnet afs.dll ARGS</c> as a separate process (the afs.dll built next to the tests).</summary>
    public static Process StartAfsProcess(params string[] args)
    {
        var start = new ProcessStartInfo(System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "afs.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        return Process.Start(start)!;
    }

    public async Task DisposeAsync()
    {
        var leftovers = await Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [OwnerLabel] = true } },
        });
        foreach (var container in leftovers.Where(c => c.Labels.TryGetValue(NameLabel, out var name) && name.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            await Testing.DockerEngine.RemoveContainerQuietlyAsync(Docker, container.ID);
        }
        await Testing.DockerEngine.RemoveImageQuietlyAsync(Docker, Image);
        Docker.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class AfsEnvironmentCollection : ICollectionFixture<AfsEnvironmentFixture>
{
    public const string Name = "afs-environments";
}

/// <summary>A StringWriter that may be written by one thread while a test reads it from another.</summary>
public sealed class ConcurrentStringWriter : StringWriter
{
    private readonly Lock _gate = new();

    public override void Write(char value)
    {
        lock (_gate)
        {
            base.Write(value);
        }
    }

    public override void Write(string? value)
    {
        lock (_gate)
        {
            base.Write(value);
        }
    }

    public override void WriteLine(string? value)
    {
        lock (_gate)
        {
            base.WriteLine(value);
        }
    }

    public override string ToString()
    {
        lock (_gate)
        {
            return base.ToString();
        }
    }
}
