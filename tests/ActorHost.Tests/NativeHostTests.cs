using System.Net;
using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

/// <summary>
/// The published host as images carry it: the native <c>affinetes-host</c> serves Python and sidecar actors without
/// the .NET runtime, and hands a C# actor to the managed host beside it in the same process.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class NativeHostTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-native-host-");

    public void Dispose() => _work.Delete(recursive: true);

    [Fact]
    public async Task PythonActor_IsServedWithoutTheDotnetRuntime_AndStopsOnSigterm()
    {
        await using var host = HostProcess.StartBinary(HostProcess.PublishedBinary,
            new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = HostUnderTest.EnvPath("protocol_env.py") });
        await host.WaitReadyAsync();
        using var response = await host.Client.PostAsync("/echo", new StringContent("""{"x":1}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("python", JsonDocument.Parse(await host.Client.GetStringAsync("/ready")).RootElement.GetProperty("runtime").GetString());
        var maps = host.MappedFiles;
        Assert.Contains("libpython3", maps);
        Assert.DoesNotContain("libcoreclr.so", maps);
        Assert.DoesNotContain("libclrjit.so", maps);

        host.SendSigterm();
        Assert.Equal(0, await host.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task SidecarActor_IsServedWithoutTheDotnetRuntime()
    {
        await using var host = HostProcess.StartBinary(HostProcess.PublishedBinary, new Dictionary<string, string>
        {
            ["AFFINETES_SIDECAR_COMMAND"] = JsonSerializer.Serialize(new[] { "python3", HostUnderTest.EnvPath("sidecar_server.py"), "--openapi" }),
        });
        await host.WaitReadyAsync();
        using var response = await host.Client.PostAsync("/echo", new StringContent("""{"x":1}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("libcoreclr.so", host.MappedFiles);
    }

    [Fact]
    public async Task CSharpActor_IsHandedToTheManagedHost_InTheSameProcess()
    {
        await using var host = HostProcess.StartBinary(HostProcess.PublishedBinary, new Dictionary<string, string>
        {
            ["AFFINETES_ENV_FILE"] = HostUnderTest.EnvPath("csharp/shapes/Actor.cs"),
            ["AFFINETES_CACHE_DIR"] = _work.FullName,
        });
        await host.WaitReadyAsync(HostUnderTest.StartLimit);
        using var response = await host.Client.PostAsync("/doubled", new StringContent("""{"x":4}"""));
        Assert.Equal("""{"status":"success","result":8,"error":null}""", await response.Content.ReadAsStringAsync());
        Assert.Contains("libcoreclr.so", host.MappedFiles); // the process the test started is now the managed host

        host.SendSigterm();
        Assert.Equal(0, await host.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task CSharpActor_WithoutTheManagedHostBesideIt_ExitsWithOneClearLine()
    {
        var alone = Path.Combine(_work.FullName, "affinetes-host");
        File.Copy(HostProcess.PublishedBinary, alone);
        File.SetUnixFileMode(alone, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await using var host = HostProcess.StartBinary(alone,
            new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = HostUnderTest.EnvPath("csharp/shapes/Actor.cs") });

        Assert.Equal(127, await host.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains($"a C# actor is served by the managed host, and {Path.Combine(_work.FullName, "managed", "affinetes-host")} cannot be run", host.Output);
    }
}
