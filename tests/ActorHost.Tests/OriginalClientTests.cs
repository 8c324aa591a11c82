using System.Diagnostics;
using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

/// <summary>
/// Validators still on the Python original call our host with its client: its call path (a stand-in written from its
/// HTTP executor, run with Debian's httpx) gets what it expects. The other direction, our client against the
/// original's server, is in the ValidatorClient tests (original_like_server.py).
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class OriginalClientTests
{
    [Fact]
    public async Task TheOriginalsClient_CallsOurHost()
    {
        await using var host = HostProcess.Start(new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", "protocol_env.py") });
        await host.WaitReadyAsync();
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Peers", "original_client.py"));
        start.ArgumentList.Add($"http://127.0.0.1:{host.Port}");
        using var client = Process.Start(start)!;
        var output = client.StandardOutput.ReadToEndAsync();
        var error = client.StandardError.ReadToEndAsync();
        await client.WaitForExitAsync().Within(TimeSpan.FromSeconds(60), "the original's client");
        Assert.True(client.ExitCode == 0, await error);

        var report = JsonDocument.Parse(await output).RootElement;
        Assert.Equal(200, report.GetProperty("health")[0].GetInt32());
        Assert.Equal("ok", report.GetProperty("health")[1].GetProperty("status").GetString());
        var methods = report.GetProperty("methods").EnumerateArray().Select(m => m.GetString()).ToList();
        Assert.Contains("echo", methods);
        Assert.DoesNotContain("_private", methods);
        Assert.Equal(7, report.GetProperty("echo").GetProperty("x").GetInt32());
        Assert.Equal(3.5, report.GetProperty("add").GetDouble());
        Assert.Equal(3, report.GetProperty("dataclass").GetProperty("task_id").GetInt32());
        Assert.Equal(JsonValueKind.Object, report.GetProperty("async").ValueKind);
        // Errors reach it as the HTTP errors it turns into ExecutionError, with our JSON body (detail first, as FastAPI's).
        Assert.StartsWith("HTTP 500: {\"detail\":", report.GetProperty("fail").GetString());
        Assert.Contains("model refused", report.GetProperty("fail").GetString());
        Assert.StartsWith("HTTP 404: {\"detail\":\"Method not found: no_such_method", report.GetProperty("no_such_method").GetString());
    }
}
