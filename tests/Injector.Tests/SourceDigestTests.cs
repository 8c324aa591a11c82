using Affinetes.Injector.Sources;
using Affinetes.Testing;

namespace Affinetes.Injector.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class SourceDigestTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("affinetes-digest-");

    public void Dispose() => _dir.Delete(recursive: true);

    private void Write(string relative, string content)
    {
        var path = Path.Combine(_dir.FullName, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    [Fact]
    public void Digest_SameTree_IsStableAndIgnoresCaches()
    {
        Write("env.py", "class Actor: pass\n");
        Write("Dockerfile", "FROM python:3.11-slim\n");
        var first = SourceDigest.Compute(_dir.FullName);
        Write("__pycache__/env.cpython-311.pyc", "junk");
        Write(".git/HEAD", "ref: refs/heads/main");
        Assert.Equal(first, SourceDigest.Compute(_dir.FullName));
        Assert.StartsWith("sha256:", first);
        Assert.Equal(71, first.Length);
    }

    [Fact]
    public void Digest_ChangesWithContentOrPath()
    {
        Write("env.py", "class Actor: pass\n");
        var first = SourceDigest.Compute(_dir.FullName);
        Write("env.py", "class Actor: pass  \n");
        var changed = SourceDigest.Compute(_dir.FullName);
        Assert.NotEqual(first, changed);
        File.Move(Path.Combine(_dir.FullName, "env.py"), Path.Combine(_dir.FullName, "env2.py"));
        Assert.NotEqual(changed, SourceDigest.Compute(_dir.FullName));
    }

    [Fact]
    public void Digest_MissingDirectory_SaysWhich()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => SourceDigest.Compute("/nonexistent/affinetes-env"));
        Assert.Contains("/nonexistent/affinetes-env", e.Message);
    }
}
