using System.Diagnostics;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary>
/// afs as users install it: packed by the release step, installed as a .NET tool outside this repository, building an
/// environment on an engine that has no host layer yet: it pulls the layer from the registry it was released with.
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
public sealed class AfsReleaseTests : IDisposable
{
    private const string Registry = "127.0.0.1:5000";
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-release-");

    public void Dispose() => _work.Delete(recursive: true);

    private static async Task<(int Exit, string Output, string Error)> RunAsync(string file, IEnumerable<string> args, string workingDirectory, TimeSpan limit)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // Nothing of this checkout may help the installed tool: no published host directory, no registry but its own.
        start.Environment.Remove("AFFINETES_HOST_DIR");
        start.Environment.Remove("AFFINETES_HOST_REGISTRY");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().Within(limit, $"{Path.GetFileName(file)} {string.Join(' ', args)}");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        return (process.ExitCode, await output, await error);
    }

    [Fact]
    public async Task InstalledTool_OutsideTheRepository_PullsTheHostLayerItWasReleasedWith()
    {
        var suffix = $"-t{Guid.NewGuid().ToString("N")[..8]}";
        var packages = Path.Combine(_work.FullName, "packages");
        var (releaseExit, nupkg, releaseError) = await RunAsync(Path.Combine(RepositoryRoot.Path, "scripts", "release.sh"),
            ["--registry", Registry, "--out", packages, "--layer-suffix", suffix], RepositoryRoot.Path, TimeSpan.FromMinutes(12));
        Assert.True(releaseExit == 0, releaseError);
        Assert.True(File.Exists(nupkg.Trim()), $"no package at {nupkg}");

        var tools = Path.Combine(_work.FullName, "tools");
        var (installExit, _, installError) = await RunAsync("dotnet", ["tool", "install", "Affinetes.Afs", "--tool-path", tools, "--add-source", packages],
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
            var (exit, output, error) = await RunAsync(Path.Combine(tools, "afs"), ["build", "my-env", "--tag", tag], _work.FullName, TimeSpan.FromMinutes(5));
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
