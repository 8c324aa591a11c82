using System.Formats.Tar;
using Affinetes.Injector.Building;
using Affinetes.Injector.Detection;
using Affinetes.Injector.Dockerfiles;
using Affinetes.Injector.Sources;
using Affinetes.Testing;

namespace Affinetes.Injector.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class InjectorUnitTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("affinetes-injector-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Write(string relative, string content = "")
    {
        var path = Path.Combine(_dir.FullName, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void PythonHostLayer_MatchesSnapshot()
    {
        var dockerfile = new PythonActorKind().HostLayerDockerfile(new HostLayerInputs
        {
            BaseImage = "affinetes-build/0123:environment",
            HostImage = "affinetes/host:9.9.9",
            HostVersion = "9.9.9",
            SourceDigest = "sha256:abc",
        });
        var snapshot = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Snapshots", "python-host-layer.Dockerfile"));
        Assert.Equal(snapshot, dockerfile);
    }

    [Fact]
    public void Detect_PythonEnvironment()
    {
        Write("env.py", "class Actor: pass\n");
        Write("Dockerfile", "FROM python:3.11-slim\n");
        Assert.Equal("function_based", KindDetector.Default.Detect(_dir.FullName).Label);
    }

    [Fact]
    public void Detect_MissingDockerfile_SaysSo()
    {
        Write("env.py", "class Actor: pass\n");
        var e = Assert.Throws<DetectionException>(() => KindDetector.Default.Detect(_dir.FullName));
        Assert.Contains("Dockerfile is missing", e.Message);
    }

    [Fact]
    public void Detect_NothingRecognisable_SaysWhatEachKindNeeds()
    {
        Write("Dockerfile", "FROM python:3.11-slim\n");
        Write("main.py", "print('hi')\n");
        var e = Assert.Throws<DetectionException>(() => KindDetector.Default.Detect(_dir.FullName));
        Assert.Contains("no environment found", e.Message);
        Assert.Contains("env.py", e.Message);
    }

    [Theory]
    [InlineData("https://github.com/org/envs.git", "https://github.com/org/envs.git", null, null)]
    [InlineData("https://github.com/org/envs.git#v2", "https://github.com/org/envs.git", "v2", null)]
    [InlineData("https://github.com/org/envs.git#main:environments/sat", "https://github.com/org/envs.git", "main", "environments/sat")]
    [InlineData("file:///srv/repo.git#0123456789abcdef0123456789abcdef01234567:env", "file:///srv/repo.git", "0123456789abcdef0123456789abcdef01234567", "env")]
    [InlineData("git@github.com:org/envs.git#:sub/dir/", "git@github.com:org/envs.git", null, "sub/dir")]
    public void Source_GitUrl_ParsesRefAndSubdirectory(string value, string url, string? gitRef, string? subdir)
    {
        var source = EnvironmentSource.Parse(value);
        Assert.True(source.IsGit);
        Assert.Equal(url, source.GitUrl);
        Assert.Equal(gitRef, source.GitRef);
        Assert.Equal(subdir, source.Subdirectory);
    }

    [Fact]
    public void Source_ExistingDirectory_IsLocal()
    {
        var source = EnvironmentSource.Parse(_dir.FullName);
        Assert.False(source.IsGit);
        Assert.Equal(_dir.FullName, source.LocalPath);
    }

    [Theory]
    [InlineData("/nonexistent/env-dir", "neither an existing directory nor a git URL")]
    [InlineData("https://example.org/r.git#main:../escape", "must be a relative path")]
    public void Source_Bad_SaysWhy(string value, string message)
    {
        var e = Assert.Throws<SourceException>(() => EnvironmentSource.Parse(value));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public async Task BuildContext_LeavesOutGitAndDockerignored_KeepsTheRest()
    {
        Write("Dockerfile", "FROM python:3.11-slim\n");
        Write("env.py", "class Actor: pass\n");
        Write("data/keep.json", "{}");
        Write("data/cache/big.bin", "x");
        Write("secrets.env", "KEY=1");
        Write("logs/a.log", "x");
        Write("logs/important.log", "x");
        Write(".git/HEAD", "ref");
        Write(".dockerignore", "# comment\nsecrets.env\ndata/cache\n**/*.log\n!logs/important.log\n");

        await using var stream = await BuildContext.CreateAsync(_dir.FullName, CancellationToken.None);
        var names = new List<string>();
        await using (var reader = new TarReader(stream))
        {
            while (await reader.GetNextEntryAsync() is { } entry)
            {
                names.Add(entry.Name);
            }
        }
        Assert.Contains("Dockerfile", names);
        Assert.Contains("env.py", names);
        Assert.Contains("data/keep.json", names);
        Assert.Contains("logs/important.log", names);
        Assert.DoesNotContain("secrets.env", names);
        Assert.DoesNotContain("data/cache/big.bin", names);
        Assert.DoesNotContain("logs/a.log", names);
        Assert.DoesNotContain(names, n => n.StartsWith(".git", StringComparison.Ordinal) && n != ".dockerignore");
    }

    [Theory]
    [InlineData("my-env:v1", "my-env", "v1")]
    [InlineData("127.0.0.1:5000/my-env:v1", "127.0.0.1:5000/my-env", "v1")]
    [InlineData("127.0.0.1:5000/my-env", "127.0.0.1:5000/my-env", "latest")]
    public void SplitTag_HandlesRegistryPorts(string image, string repository, string tag)
    {
        Assert.Equal((repository, tag), ImageBuilder.SplitTag(image));
    }

    [Fact]
    public void StarterFiles_NameTheEnvironment()
    {
        var files = new PythonActorKind().StarterFiles("my-eval");
        Assert.Contains("my-eval", files["env.py"]);
        Assert.Contains("class Actor", files["env.py"]);
        Assert.StartsWith("FROM python:3.11-slim", files["Dockerfile"]);
        Assert.Contains("afs build . --tag my-eval:dev", files["README.md"]);
    }

    [Fact]
    public void TemporaryTag_CarriesTheTimeItWasMade()
    {
        var made = DateTimeOffset.FromUnixTimeSeconds(1_780_000_000);
        var tag = ImageBuilder.TemporaryTag(made);
        Assert.Matches("^affinetes-build/1780000000-[0-9a-f]{32}:environment$", tag);
        Assert.Equal(made, ImageBuilder.TemporaryTagTime(tag));
        Assert.NotEqual(tag, ImageBuilder.TemporaryTag(made)); // two builds in the same second differ
    }

    [Theory]
    [InlineData("affinetes-build/506154155bdf4d1f9b649944dbb8d5c0:environment")] // the earlier form: no time
    [InlineData("affinetes-build/99999999999999999999-x:environment")]
    [InlineData("affinetes-build/1780000000-x:latest")]
    [InlineData("other/1780000000-x:environment")]
    public void TemporaryTagTime_OfOtherNames_IsNone(string tag) => Assert.Null(ImageBuilder.TemporaryTagTime(tag));
}
