using Affinetes.Injector.Detection;
using Affinetes.Injector.Dockerfiles;
using Affinetes.Protocol;
using Affinetes.Testing;

namespace Affinetes.Injector.Tests;

/// <summary>Kind detection of C#, sidecar and http_based environments, and their host layers (by snapshot).</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class KindDetectionTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("affinetes-kinds-");

    public void Dispose() => _dir.Delete(recursive: true);

    private void Write(string relative, string content = "")
    {
        var path = Path.Combine(_dir.FullName, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private HostLayerInputs Inputs(IReadOnlyList<string>? baseCommand = null) => new()
    {
        BaseImage = "affinetes-build/0123:environment",
        HostImage = "affinetes/host:9.9.9",
        HostVersion = "9.9.9",
        SourceDigest = "sha256:abc",
        SourceDirectory = _dir.FullName,
        BaseUser = "app",
        BaseCommand = baseCommand ?? ["/bin/sh", "-c", "uvicorn env:app --host 0.0.0.0 --port ${AFFINETES_PORT:-8000} --app-dir /app"],
    };

    private static string Snapshot(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Snapshots", name));

    [Fact]
    public void Detect_ActorCs_IsCSharp()
    {
        Write("Actor.cs", "public class Actor {}");
        Write("Dockerfile", "FROM python:3.11-slim\n");
        var kind = KindDetector.Default.Detect(_dir.FullName);
        Assert.Equal("csharp", kind.Name);
        Assert.Equal(EnvironmentKinds.Python, kind.Label);
    }

    [Fact]
    public void Detect_EnvPyAndActorCs_IsAnErrorSayingHowToChoose()
    {
        Write("Actor.cs", "public class Actor {}");
        Write("env.py", "class Actor: pass\n");
        Write("Dockerfile", "FROM python:3.11-slim\n");
        var e = Assert.Throws<DetectionException>(() => KindDetector.Default.Detect(_dir.FullName));
        Assert.Contains("several kinds at once", e.Message);
        Assert.Contains("python", e.Message);
        Assert.Contains("csharp", e.Message);
        Assert.Contains("keep the files of the one you mean", e.Message);
    }

    [Theory]
    [InlineData("from fastapi import FastAPI\napp = FastAPI()\n")]
    [InlineData("import fastapi\napp=fastapi.FastAPI(title='x')\n")]
    public void Detect_EnvPyWithFastApiApp_IsHttpBased_AsTheOriginalDetectsIt(string envPy)
    {
        Write("env.py", envPy);
        Write("Dockerfile", "FROM python:3.11-slim\n");
        var kind = KindDetector.Default.Detect(_dir.FullName);
        Assert.Equal("http_based", kind.Name);
        Assert.Equal("http_based", kind.Label);
    }

    [Fact]
    public void Detect_EnvPyMentioningFastApiWithoutApp_StaysPython()
    {
        Write("env.py", "# talks to a FastAPI service\nclass Actor: pass\n");
        Write("Dockerfile", "FROM python:3.11-slim\n");
        Assert.Equal("python", KindDetector.Default.Detect(_dir.FullName).Name);
    }

    [Fact]
    public void Detect_SidecarJson_IsSidecar()
    {
        Write("sidecar.json", """{"command": ["python3", "server.py"]}""");
        Write("Dockerfile", "FROM python:3.11-slim\n");
        Assert.Equal("sidecar", KindDetector.Default.Detect(_dir.FullName).Name);
    }

    [Theory]
    [InlineData("{}", "\"command\"")]
    [InlineData("""{"command": []}""", "non-empty array")]
    [InlineData("""{"command": ["x"], "port": 8000}""", "other than 8000")]
    [InlineData("""{"command": ["x"], "methods": "evaluate"}""", "array of method names")]
    [InlineData("{command", "not valid JSON")]
    public void Detect_BadSidecarJson_SaysWhatIsWrong(string declaration, string expected)
    {
        Write("sidecar.json", declaration);
        Write("Dockerfile", "FROM python:3.11-slim\n");
        var e = Assert.Throws<DetectionException>(() => KindDetector.Default.Detect(_dir.FullName));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void SidecarJson_ShellLineCommand_RunsThroughSh()
    {
        Write("sidecar.json", """{"command": "exec node server.js"}""");
        Assert.Equal(["/bin/sh", "-c", "exec node server.js"], SidecarKind.Read(_dir.FullName).Command);
    }

    [Fact]
    public void CSharpHostLayer_MatchesSnapshot() =>
        Assert.Equal(Snapshot("csharp-host-layer.Dockerfile"), new CSharpActorKind().HostLayerDockerfile(Inputs()));

    [Fact]
    public void SidecarHostLayer_MatchesSnapshot()
    {
        Write("sidecar.json", """{"command": ["node", "server.js", "--name=$x"], "port": 9000, "methods": ["evaluate"]}""");
        Assert.Equal(Snapshot("sidecar-host-layer.Dockerfile"), new SidecarKind().HostLayerDockerfile(Inputs()));
    }

    [Fact]
    public void HttpBasedHostLayer_KeepsTheImagesCommand_MatchesSnapshot() =>
        Assert.Equal(Snapshot("http-based-host-layer.Dockerfile"), new HttpBasedKind().HostLayerDockerfile(Inputs()));

    [Theory]
    [InlineData("")]
    [InlineData("python3")]
    public void HttpBasedHostLayer_WithoutAServerCommand_SaysToAddCmd(string command)
    {
        var e = Assert.Throws<DetectionException>(() => new HttpBasedKind().HostLayerDockerfile(Inputs(command.Length == 0 ? [] : [command])));
        Assert.Contains("CMD", e.Message);
    }

    [Theory]
    [InlineData("plain/path.dll", "plain/path.dll")]
    [InlineData("[\"a\",\"b c\"]", "\"[\\\"a\\\",\\\"b c\\\"]\"")]
    [InlineData("--port ${PORT}", "\"--port \\${PORT}\"")]
    public void EnvValues_AreQuotedSoDockerDoesNotExpandThem(string value, string expected) =>
        Assert.Equal(expected, HostLayer.Quote(value));
}
