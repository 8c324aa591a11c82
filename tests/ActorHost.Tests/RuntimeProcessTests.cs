using System.Net;
using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

/// <summary>The host as its own process: which assemblies each runtime loads, and a sidecar's stop on SIGTERM.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class RuntimeProcessTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-runtime-proc-");

    public void Dispose() => _work.Delete(recursive: true);

    [Fact]
    public async Task PythonHost_LoadsNeitherRoslynNorYarp()
    {
        await using var host = HostProcess.Start(new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = HostUnderTest.EnvPath("protocol_env.py") });
        await host.WaitReadyAsync();
        using var response = await host.Client.PostAsync("/echo", new StringContent("""{"x":1}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var maps = host.MappedFiles;
        Assert.Contains("libpython3", maps);
        Assert.DoesNotContain("Microsoft.CodeAnalysis", maps);
        Assert.DoesNotContain("Yarp.ReverseProxy", maps);
        Assert.DoesNotContain("OpenAI.dll", maps);
    }

    [Fact]
    public async Task CSharpHost_WithTheActorInItsCompileCache_DoesNotLoadRoslyn()
    {
        var environment = new Dictionary<string, string>
        {
            ["AFFINETES_ENV_FILE"] = HostUnderTest.EnvPath("csharp/shapes/Actor.cs"),
            ["AFFINETES_CACHE_DIR"] = _work.FullName,
        };
        await using (var first = HostProcess.Start(environment))
        {
            await first.WaitReadyAsync(HostUnderTest.StartLimit);
            Assert.Contains("Microsoft.CodeAnalysis.CSharp.dll", first.MappedFiles); // compiled: not in the cache yet
        }
        await using var host = HostProcess.Start(environment);
        await host.WaitReadyAsync();
        using var response = await host.Client.PostAsync("/doubled", new StringContent("""{"x":4}"""));
        Assert.Equal("""{"status":"success","result":8,"error":null}""", await response.Content.ReadAsStringAsync());
        var maps = host.MappedFiles;
        Assert.DoesNotContain("Microsoft.CodeAnalysis", maps);
        Assert.DoesNotContain("libpython3", maps);
        Assert.Contains("compile cache hit", host.Output);
    }

    [Fact]
    public async Task SidecarHost_OnSigterm_StopsItsServer_AndExits()
    {
        await using var host = HostProcess.Start(new Dictionary<string, string>
        {
            ["AFFINETES_SIDECAR_COMMAND"] = JsonSerializer.Serialize(new[] { "python3", HostUnderTest.EnvPath("sidecar_server.py"), "--openapi" }),
        });
        await host.WaitReadyAsync();
        using var response = await host.Client.PostAsync("/echo", new StringContent("""{"x":1}"""));
        var child = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("result").GetProperty("pid").GetInt32();
        Assert.True(Directory.Exists($"/proc/{child}"));
        Assert.Contains("sidecar up pid", host.Output); // the server's output is in the host's (the container log)

        host.SendSigterm();
        Assert.Equal(0, await host.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.False(Directory.Exists($"/proc/{child}"), "the sidecar outlived its host");
        Assert.Contains("sidecar stopped", host.Output);
    }
}
