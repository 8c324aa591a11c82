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

/// <summary>The fast path that finds libpython from the layout alone, on fake installations of each shape.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class PythonLayoutTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("affinetes-layout-");

    public void Dispose() => _root.Delete(recursive: true);

    /// <summary>PREFIX/bin/python3 -> python3.11 (an ELF file), and libpython where <paramref name="libDir"/> says.</summary>
    private string Install(string prefix, string? libDir, bool elf = true, bool venv = false)
    {
        var bin = Path.Combine(_root.FullName, prefix, "bin");
        Directory.CreateDirectory(bin);
        var real = Path.Combine(bin, "python3.11");
        if (elf)
        {
            File.Copy("/bin/true", real);
        }
        else
        {
            File.WriteAllText(real, "#!/bin/sh\nexec pyenv python \"$@\"\n");
        }
        File.CreateSymbolicLink(Path.Combine(bin, "python3"), "python3.11");
        if (libDir is not null)
        {
            var lib = Path.Combine(_root.FullName, prefix, libDir);
            Directory.CreateDirectory(lib);
            File.WriteAllText(Path.Combine(lib, "libpython3.11.so.1.0"), "");
        }
        if (venv)
        {
            File.WriteAllText(Path.Combine(_root.FullName, prefix, "pyvenv.cfg"), "home = /usr/bin\n");
        }
        return bin;
    }

    [Fact]
    public void OfficialImageLayout_UsrLocal()
    {
        var bin = Install("usr/local", "lib");
        var found = PythonInstallation.FromLayout(bin + ":/usr/bin")!;
        Assert.Equal(Path.Combine(_root.FullName, "usr/local/lib/libpython3.11.so.1.0"), found.LibraryPath);
        Assert.Equal(Path.Combine(_root.FullName, "usr/local"), found.Home);
        Assert.Equal("3.11", found.Version);
    }

    [Fact]
    public void DebianLayout_Multiarch()
    {
        var bin = Install("usr", "lib/x86_64-linux-gnu");
        var found = PythonInstallation.FromLayout(bin)!;
        Assert.EndsWith("usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", found.LibraryPath);
        Assert.Equal(Path.Combine(_root.FullName, "usr"), found.Home);
    }

    [Fact]
    public void NoSharedLibrary_ScriptShim_OrVirtualenv_FallBackToTheInterpreterProbe()
    {
        Assert.Null(PythonInstallation.FromLayout(Install("nolib", null)));
        Assert.Null(PythonInstallation.FromLayout(Install("shim", "lib", elf: false)));
        Assert.Null(PythonInstallation.FromLayout(Install("venv", "lib", venv: true)));
        Assert.Null(PythonInstallation.FromLayout(Path.Combine(_root.FullName, "empty")));
    }
}
