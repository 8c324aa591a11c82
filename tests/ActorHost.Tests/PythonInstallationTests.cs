using System.Diagnostics;
using System.Net;
using Affinetes.ActorHost.Runtimes.Python;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

[Trait(Tiers.Name, Tiers.Host)]
public sealed class PythonInstallationTests
{
    [Fact]
    public void Locate_MachinePython_FindsAnExistingSharedLibrary()
    {
        var python = PythonInstallation.Locate(null);
        Assert.True(File.Exists(python.LibraryPath), python.LibraryPath);
        Assert.Matches(@"libpython3\.\d+\.so", python.LibraryPath);
        Assert.Matches(@"^3\.\d+$", python.Version);
        Assert.NotEmpty(python.SysPath);
    }

    [Fact]
    public void Locate_MissingInterpreter_SaysWhatToInstall()
    {
        var e = Assert.ThrowsAny<Exception>(() => PythonInstallation.Locate("/nonexistent/python3"));
        Assert.Contains("install python3", e.Message);
    }

    [Fact]
    public async Task Virtualenv_PackagesInstalledThere_AreImportable()
    {
        var root = Directory.CreateTempSubdirectory("affinetes-venv-");
        try
        {
            var create = Process.Start("python3", ["-m", "venv", "--without-pip", root.FullName])!;
            await create.WaitForExitAsync().Within(TimeSpan.FromSeconds(60), "creating a virtualenv");
            Assert.Equal(0, create.ExitCode);
            var python = Path.Combine(root.FullName, "bin", "python");
            var sitePackages = Directory.GetDirectories(Path.Combine(root.FullName, "lib")).Single();
            await File.WriteAllTextAsync(Path.Combine(sitePackages, "site-packages", "venv_only_package.py"), "MARKER = 'from the venv'\n");

            var located = PythonInstallation.Locate(python);
            Assert.Contains(located.SysPath, p => p.StartsWith(root.FullName, StringComparison.Ordinal));

            await using var host = await HostUnderTest.StartAsync("venv_env.py", o => o with { PythonExecutable = python });
            var (status, body) = await host.CallAsync("/where", "{}");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("from the venv", body.GetProperty("result").GetString());
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
