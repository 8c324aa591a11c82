using System.Diagnostics;
using System.Text.Json;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>
/// Where the image's CPython lives: its shared library, home and module search path. Found by asking the image's
/// own interpreter (so the official <c>/usr/local</c> layout, Debian's <c>/usr</c>, pyenv and virtualenvs all work),
/// then checking the library file really exists: Debian's python3 claims a shared build without shipping one.
/// </summary>
internal sealed record PythonInstallation(string LibraryPath, string Home, string Version, IReadOnlyList<string> SysPath, string Executable)
{
    private const string Probe = """
        import json, os, sys, sysconfig
        v = sysconfig.get_config_var
        libdir, multiarch = v("LIBDIR") or "", v("MULTIARCH") or ""
        names = [n for n in (v("INSTSONAME"), v("LDLIBRARY")) if n and ".so" in n]
        names.append("libpython%d.%d.so.1.0" % sys.version_info[:2])
        candidates = [os.path.join(d, n) for n in names for d in (libdir, os.path.join(libdir, multiarch), os.path.join(sys.base_prefix, "lib"))]
        print(json.dumps({"candidates": candidates, "home": sys.base_prefix, "version": "%d.%d" % sys.version_info[:2],
                          "path": [p for p in sys.path if p], "executable": sys.executable}))
        """;

    /// <summary>
    /// Finds the installation. <paramref name="pythonExecutable"/> overrides the interpreter (else
    /// <c>$VIRTUAL_ENV/bin/python</c>, else <c>python3</c> on PATH). <c>PYTHONNET_PYDLL</c> overrides the library.
    /// </summary>
    public static PythonInstallation Locate(string? pythonExecutable)
    {
        if (pythonExecutable is null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PYTHONNET_PYDLL"))
            && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("VIRTUAL_ENV")) && FromLayout(Environment.GetEnvironmentVariable("PATH")) is { } fast)
        {
            return fast;
        }
        var executable = pythonExecutable ?? DefaultExecutable();
        ProbeResult probe;
        try
        {
            probe = RunProbe(executable);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or JsonException)
        {
            throw new RuntimeNotInstalledException(
                $"no usable Python interpreter '{executable}' ({e.Message}); install python3 and libpython3 (Debian: apt-get install -y python3 libpython3.11) or set AFFINETES_PYTHON", e);
        }

        var overridden = Environment.GetEnvironmentVariable("PYTHONNET_PYDLL");
        var library = !string.IsNullOrEmpty(overridden) ? overridden : probe.Candidates.FirstOrDefault(File.Exists);
        if (library is null || !File.Exists(library))
        {
            throw new RuntimeNotInstalledException(
                $"Python {probe.Version} at {probe.Executable} has no shared library libpython{probe.Version}.so " +
                $"(looked in: {string.Join(", ", probe.Candidates.Distinct())}); install it (Debian: apt-get install -y libpython{probe.Version}) " +
                "or use an image with a shared Python build such as python:3.x-slim");
        }
        return new PythonInstallation(library, probe.Home, probe.Version, probe.Path, probe.Executable);
    }

    /// <summary>
    /// The fast path, without starting an interpreter (it costs 40-90 ms of cold start): <c>python3</c> on PATH is a
    /// real binary <c>PREFIX/bin/python3.X</c>, not in a virtualenv, and <c>libpython3.X.so.1.0</c> sits under the
    /// same prefix (<c>/usr/local/lib</c> in official images, <c>/usr/lib/&lt;multiarch&gt;</c> on Debian). The
    /// interpreter then computes its own module path from that prefix. Anything else takes the probe.
    /// </summary>
    internal static PythonInstallation? FromLayout(string? path)
    {
        var onPath = (path ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "python3")).FirstOrDefault(File.Exists);
        if (onPath is null || File.Exists(Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(onPath)!)!, "pyvenv.cfg")))
        {
            return null;
        }
        var real = new FileInfo(onPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? onPath;
        var name = Path.GetFileName(real);
        if (!name.StartsWith("python3.", StringComparison.Ordinal) || !IsElf(real))
        {
            return null; // a shim script (pyenv) or an unversioned binary: ask the interpreter instead
        }
        var version = name["python".Length..];
        var prefix = Path.GetDirectoryName(Path.GetDirectoryName(real)!)!;
        var multiarch = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.Arm64 => "aarch64-linux-gnu",
            _ => "x86_64-linux-gnu",
        };
        var library = new[] { Path.Combine(prefix, "lib", $"libpython{version}.so.1.0"), Path.Combine(prefix, "lib", multiarch, $"libpython{version}.so.1.0") }
            .FirstOrDefault(File.Exists);
        return library is null ? null : new PythonInstallation(library, prefix, version, [], real);
    }

    private static bool IsElf(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var file = File.OpenRead(path);
        return file.Read(magic) == 4 && magic.SequenceEqual("\u007fELF"u8);
    }

    private static string DefaultExecutable()
    {
        var venv = Environment.GetEnvironmentVariable("VIRTUAL_ENV");
        if (!string.IsNullOrEmpty(venv) && File.Exists(Path.Combine(venv, "bin", "python")))
        {
            return Path.Combine(venv, "bin", "python");
        }
        return "python3";
    }

    private sealed record ProbeResult(string[] Candidates, string Home, string Version, string[] Path, string Executable);

    private static ProbeResult RunProbe(string executable)
    {
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Probe);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start it");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            process.Kill();
            throw new InvalidOperationException("it did not answer within 20 s");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"it exited with {process.ExitCode}: {stderr.Result.Trim()}");
        }
        using var doc = JsonDocument.Parse(stdout.Result);
        var root = doc.RootElement;
        return new ProbeResult(
            [.. root.GetProperty("candidates").EnumerateArray().Select(e => e.GetString()!)],
            root.GetProperty("home").GetString()!,
            root.GetProperty("version").GetString()!,
            [.. root.GetProperty("path").EnumerateArray().Select(e => e.GetString()!)],
            root.GetProperty("executable").GetString()!);
    }
}
