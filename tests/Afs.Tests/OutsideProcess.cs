using System.Diagnostics;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary>A program run as a user outside this repository runs it: nothing of this checkout helps it.</summary>
internal static class OutsideProcess
{
    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="args"/> in <paramref name="workingDirectory"/>, without the
    /// variables that point afs at this checkout's host or registry (and with <paramref name="environment"/> added),
    /// killed after <paramref name="limit"/>; its exit code and output.
    /// </summary>
    public static async Task<(int Exit, string Output, string Error)> RunAsync(string file, IEnumerable<string> args, string workingDirectory, TimeSpan limit,
        IReadOnlyDictionary<string, string>? environment = null)
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
        start.Environment.Remove("AFFINETES_HOST_DIR");
        start.Environment.Remove("AFFINETES_HOST_REGISTRY");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
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
}
