using System.IO.Compression;
using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary>Tests that pack src/Afs: one at a time, since packs of one project share its build outputs.</summary>
[CollectionDefinition(Name)]
public sealed class PackingCollection
{
    public const string Name = "packing";
}

/// <summary>
/// The packages as .NET users take them: <c>scripts/pack.sh</c> makes a local feed; the afs tool installed from it
/// builds and evaluates outside this repository with no registry (the host layer made from what the tool carries);
/// the library, added to a fresh console project from the feed, runs a job and brings the LLM gateway along.
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(PackingCollection.Name)]
public sealed class PackagesTests(GuessHostFixture guess) : IClassFixture<GuessHostFixture>, IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-packages-");

    public void Dispose() => _work.Delete(recursive: true);

    private string Feed => Path.Combine(_work.FullName, "feed");

    [Fact]
    public async Task LocalFeed_TheToolBuildsAndEvaluatesWithTheHostItCarries_AndTheLibraryRunsAJobInAFreshProject()
    {
        var suffix = $"-p{Guid.NewGuid().ToString("N")[..8]}";
        var (packExit, listed, packError) = await OutsideProcess.RunAsync(Path.Combine(RepositoryRoot.Path, "scripts", "pack.sh"),
            ["--out", Feed, "--layer-suffix", suffix], RepositoryRoot.Path, TimeSpan.FromMinutes(15));
        Assert.True(packExit == 0, packError);
        foreach (var id in new[] { "Protocol", "ValidatorClient", "Injector", "Actors", "Baseline", "Afs" })
        {
            var nupkg = Path.Combine(Feed, $"Affinetes.{id}.0.1.0.nupkg");
            Assert.Contains(nupkg, listed);
            Assert.True(File.Exists(Path.ChangeExtension(nupkg, ".snupkg")), $"no symbols for Affinetes.{id}");
            using var package = ZipFile.OpenRead(nupkg);
            var nuspec = new StreamReader(package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open()).ReadToEnd();
            Assert.Contains("<license type=\"expression\">MIT</license>", nuspec);
            Assert.Contains("<readme>README.md</readme>", nuspec);
            Assert.Contains("<repository type=\"git\" url=\"https://github.com/AffineFoundation/affinetes-dotnet\"", nuspec);
            Assert.Contains(package.Entries, e => e.FullName == "README.md");
        }

        await ToolCarriesItsHostAsync(suffix);
        await LibraryRunsAJobAsync();
    }

    /// <summary>The afs tool from the feed, outside the repository: builds the host layer from the host it carries, then an environment, and evaluates it.</summary>
    private async Task ToolCarriesItsHostAsync(string suffix)
    {
        var tools = Path.Combine(_work.FullName, "tools");
        var (installExit, _, installError) = await OutsideProcess.RunAsync("dotnet", ["tool", "install", "Affinetes.Afs", "--tool-path", tools, "--add-source", Feed],
            _work.FullName, TimeSpan.FromMinutes(3));
        Assert.True(installExit == 0, installError);
        var environment = Path.Combine(_work.FullName, "my-env");
        Directory.CreateDirectory(environment);
        foreach (var file in Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "environments", "python-arith")))
        {
            File.Copy(file, Path.Combine(environment, Path.GetFileName(file)));
        }
        var tag = $"affinetes-test/packed:{Guid.NewGuid():N}";
        using var docker = DockerEngine.CreateClient();
        var layer = "";
        try
        {
            var (exit, output, error) = await OutsideProcess.RunAsync(Path.Combine(tools, "afs"), ["build", "my-env", "--tag", tag], _work.FullName, TimeSpan.FromMinutes(6));
            Assert.True(exit == 0, error);
            var built = System.Text.RegularExpressions.Regex.Match(error, @"\[host image\] building (affinetes/host:\S+) from (\S+)");
            Assert.True(built.Success, $"the installed afs did not build its host layer from what it carries:\n{error}");
            layer = built.Groups[1].Value;
            Assert.EndsWith(suffix, layer);
            Assert.StartsWith(Path.Combine(tools, ".store"), built.Groups[2].Value);
            Assert.StartsWith($"built {tag}", output.Trim());

            var store = Path.Combine(_work.FullName, "results.db");
            var port = DockerEngine.FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture);
            var (evalExit, evaluated, evalError) = await OutsideProcess.RunAsync(Path.Combine(tools, "afs"),
                ["eval", tag, "--tasks", "1-3", "--store", store, "--baseline-port", port], _work.FullName, TimeSpan.FromMinutes(4));
            Assert.True(evalExit == 0, evalError);
            Assert.Contains("3 tasks, 3 completed, 0 failed", evaluated);
            // The gateway the tool carries stood between the isolated container and the baseline.
            Assert.Contains("LLM through the gateway (stored with the results): 3 requests from 3 tasks", evaluated);
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

    /// <summary>
    /// A console project that takes Affinetes.ValidatorClient from the feed (and nothing of this repository) and runs
    /// an evaluation job: environments/python-guess at a URL played in episode mode by a local model.
    /// </summary>
    private async Task LibraryRunsAJobAsync()
    {
        var app = Path.Combine(_work.FullName, "validator");
        Directory.CreateDirectory(app);
        // The feed beside the machine's own sources (nothing of ours is published elsewhere), extracted into a folder of
        // this test's; packages already in this machine's package folder are read from there, unless it holds ours
        // (an earlier pack of the same version).
        var userPackages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var fallback = Directory.Exists(Path.Combine(userPackages, "affinetes.validatorclient")) ? "" :
            $"<fallbackPackageFolders><add key=\"user\" value=\"{userPackages}\" /></fallbackPackageFolders>";
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{Path.Combine(_work.FullName, "packages")}" />
              </config>
              <packageSources>
                <add key="affinetes-feed" value="{Feed}" />
              </packageSources>
              {fallback}
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "validator.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Affinetes.ValidatorClient" Version="0.1.0" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Text.Json;
            using Affinetes.ValidatorClient;
            using Affinetes.ValidatorClient.Environments;
            using Affinetes.ValidatorClient.Evaluation;
            using Affinetes.ValidatorClient.Jobs;
            using Affinetes.ValidatorClient.Results;

            var (environmentUrl, modelUrl, storePath) = (args[0], args[1], args[2]);
            await using var client = AffinetesClient.Create();
            await using var store = await ResultStore.OpenAsync(storePath);
            var service = new EvaluationService(client, store);
            var report = await service.RunAsync(new EvaluationJob
            {
                Environment = new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [environmentUrl] },
                Request = new EvaluationRequest
                {
                    TaskIds = [1, 2, 3, 4],
                    Episodes = new EpisodeSettings { BaseUrl = modelUrl, Model = "halver", ApiKey = "any" },
                },
                Model = new ModelEndpoint { BaseUrl = modelUrl, Model = "halver" },
            });
            Console.WriteLine(JsonSerializer.Serialize(new { completed = report.Summary.Completed, mean = report.Summary.MeanScore, run = report.Info?.Id }));
            """);
        var (buildExit, buildOutput, buildError) = await OutsideProcess.RunAsync("dotnet", ["build", "-c", "Release", "-nologo", "-v", "quiet"], app, TimeSpan.FromMinutes(6));
        Assert.True(buildExit == 0, buildOutput + buildError);
        var output = Path.Combine(app, "bin", "Release", "net10.0");
        // The gateway isolated environments need comes with the package, ready to start.
        var gateway = Path.Combine(output, "affinetes-llm-gateway", "affinetes-llm-gateway.dll");
        Assert.True(File.Exists(gateway), $"no LLM gateway at {gateway}");

        await using var model = await LocalLlmServer.StartAsync(Players.BinarySearch);
        var (exit, printed, error) = await OutsideProcess.RunAsync("dotnet", [Path.Combine(output, "validator.dll"), guess.Url, model.BaseUrl.ToString(), Path.Combine(app, "results.db")],
            app, TimeSpan.FromMinutes(2));
        Assert.True(exit == 0, error);
        var result = JsonDocument.Parse(printed.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal(4, result.GetProperty("completed").GetInt32());
        Assert.Equal(1.0, result.GetProperty("mean").GetDouble());
    }
}
