using System.Diagnostics;
using System.IO.Compression;
using Affinetes.Testing;

namespace Affinetes.ValidatorClient.Tests.Miners;

/// <summary>
/// The scenario the source tests read was encoded by @polkadot/types (encoder/generate.mjs), not by the code under
/// test: running the script again gives the committed files, byte for byte.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class EncoderScenarioTests : IDisposable
{
    private static readonly string Encoder = Path.Combine(RepositoryRoot.Path, "tests", "ValidatorClient.Tests", "Miners", "encoder");
    private static readonly string Committed = Path.Combine(RepositoryRoot.Path, "tests", "ValidatorClient.Tests", "Miners", "Data");
    private readonly string _out = Path.Combine(Path.GetTempPath(), $"affinetes-encoder-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }
    }

    [Fact]
    public async Task Generate_WithPolkadot_GivesTheCommittedFiles()
    {
        // npm ci only when the installed packages are not those of the lock file (npm notes them in node_modules).
        var installed = Path.Combine(Encoder, "node_modules", ".package-lock.json");
        if (!File.Exists(installed) || File.GetLastWriteTimeUtc(installed) < File.GetLastWriteTimeUtc(Path.Combine(Encoder, "package-lock.json")))
        {
            await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], TimeSpan.FromMinutes(5));
        }
        await RunAsync("node", ["generate.mjs", _out], TimeSpan.FromMinutes(2));

        foreach (var name in new[] { "recorded-values.json", "scenario.json", "scoring-scenario.json" })
        {
            Assert.True(File.ReadAllText(Path.Combine(Committed, name)) == File.ReadAllText(Path.Combine(_out, name)),
                $"{name} differs from what generate.mjs writes now: run `npm ci && node generate.mjs` in {Encoder} and commit the result");
        }
        Assert.Equal(Gunzip(Path.Combine(Committed, "metadata-without-commitments.txt.gz")), Gunzip(Path.Combine(_out, "metadata-without-commitments.txt.gz")));
    }

    private static string Gunzip(string path)
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
        return reader.ReadToEnd();
    }

    private static async Task RunAsync(string program, string[] args, TimeSpan limit)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = Encoder, RedirectStandardOutput = true, RedirectStandardError = true };
        args.ToList().ForEach(start.ArgumentList.Add);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start (is Node.js installed?)");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().Within(limit, $"{program} {string.Join(' ', args)}");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {process.ExitCode}:\n{await output}\n{await error}");
    }
}
