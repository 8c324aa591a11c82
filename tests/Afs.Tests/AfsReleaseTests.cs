using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary>
/// afs as users install it: packed by the release step, installed as a .NET tool outside this repository, building an
/// environment on an engine that has no host layer yet: it pulls the layer from the registry it was released with.
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(PackingCollection.Name)]
public sealed class AfsReleaseTests : IDisposable
{
    private const string Registry = "127.0.0.1:5000";
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-release-");

    public void Dispose() => _work.Delete(recursive: true);

    [Fact]
    public async Task InstalledTool_OutsideTheRepository_PullsTheHostLayerItWasReleasedWith()
    {
        var suffix = $"-t{Guid.NewGuid().ToString("N")[..8]}";
        var packages = Path.Combine(_work.FullName, "packages");
        var (releaseExit, nupkg, releaseError) = await OutsideProcess.RunAsync(Path.Combine(RepositoryRoot.Path, "scripts", "release.sh"),
            ["--registry", Registry, "--out", packages, "--layer-suffix", suffix], RepositoryRoot.Path, TimeSpan.FromMinutes(12));
        Assert.True(releaseExit == 0, releaseError);
        Assert.True(File.Exists(nupkg.Trim()), $"no package at {nupkg}");
        using (var package = System.IO.Compression.ZipFile.OpenRead(nupkg.Trim()))
        {
            // The released tool is the slim one: it pulls its layer, carrying no host.
            Assert.DoesNotContain(package.Entries, e => e.FullName.Contains("/host/linux-x64/", StringComparison.Ordinal));
        }

        var tools = Path.Combine(_work.FullName, "tools");
        var (installExit, _, installError) = await OutsideProcess.RunAsync("dotnet", ["tool", "install", "Affinetes.Afs", "--tool-path", tools, "--add-source", packages],
            _work.FullName, TimeSpan.FromMinutes(3));
        Assert.True(installExit == 0, installError);

        // An environment of a miner's, away from this repository.
        var environment = Path.Combine(_work.FullName, "my-env");
        Directory.CreateDirectory(environment);
        foreach (var file in Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "environments", "python-arith")))
        {
            File.Copy(file, Path.Combine(environment, Path.GetFileName(file)));
        }
        var tag = $"affinetes-test/released:{Guid.NewGuid():N}";
        using var docker = DockerEngine.CreateClient();
        var layer = "";
        try
        {
            var (exit, output, error) = await OutsideProcess.RunAsync(Path.Combine(tools, "afs"), ["build", "my-env", "--tag", tag], _work.FullName, TimeSpan.FromMinutes(5));
            Assert.True(exit == 0, error);
            var pulled = System.Text.RegularExpressions.Regex.Match(error, @"\[host image\] pulling 127\.0\.0\.1:5000/(affinetes/host:\S+) ");
            Assert.True(pulled.Success, $"the installed afs did not pull its host layer:\n{error}");
            layer = pulled.Groups[1].Value;
            Assert.EndsWith(suffix, layer);
            Assert.StartsWith($"built {tag}", output.Trim());
            await using var container = await DockerEngine.RunAsync(docker, tag, null, 8000);
            await DockerEngine.WaitReadyAsync(container);
        }
        finally
        {
            await DockerEngine.RemoveImageQuietlyAsync(docker, tag);
            if (layer.Length > 0)
            {
                await DockerEngine.RemoveImageQuietlyAsync(docker, layer);
            }
        }
    }
}
