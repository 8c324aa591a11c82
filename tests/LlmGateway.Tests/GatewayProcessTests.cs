using System.Diagnostics;
using System.Net.Sockets;

namespace Affinetes.LlmGateway.Tests;

/// <summary>The gateway as its own process, as a validator's client starts it.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class GatewayProcessTests
{
    [Fact]
    public async Task Process_TakesTheKeyFromItsEnvironment_PrintsWhereItListens_ServesAndStopsOnSigterm_KeyInNoOutput()
    {
        await using var upstream = await LocalLlmServer.StartAsync();
        var key = "sk-process-" + Guid.NewGuid().ToString("N");
        var directory = Directory.CreateTempSubdirectory("afgw-process-").FullName;
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "affinetes-llm-gateway"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--upstream", upstream.BaseUrl.ToString(), "--upstream-key-env", "TEST_LLM_KEY", "--listen", "127.0.0.1:0",
            "--unix-socket", Path.Combine(directory, "api.sock"), "--admin-unix-socket", Path.Combine(directory, "admin.sock"), "--admin-listen", "127.0.0.1:0", "--log-requests" })
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["TEST_LLM_KEY"] = key;
        using var process = Process.Start(start)!;
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        try
        {
            var ready = await process.StandardOutput.ReadLineAsync().Within(what: "the ready line") ?? "";
            using var readyJson = JsonDocument.Parse(ready);
            var api = readyJson.RootElement.GetProperty("api").EnumerateArray().Select(a => a.GetString()!).ToList();
            var admin = readyJson.RootElement.GetProperty("admin").EnumerateArray().Select(a => a.GetString()!).ToList();
            Assert.Contains($"unix:{directory}/api.sock", api);
            Assert.Contains($"unix:{directory}/admin.sock", admin);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory, "admin.sock")));

            using var adminClient = new HttpClient { BaseAddress = new Uri(admin.Single(a => a.StartsWith("http", StringComparison.Ordinal))) };
            using var registered = await adminClient.PostAsync(GatewayRoutes.Tenants, Json("""{"name":"arith"}""")).Within();
            var token = JsonDocument.Parse(await registered.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString();
            using var client = new HttpClient { BaseAddress = new Uri(api.Single(a => a.StartsWith("http", StringComparison.Ordinal))) };
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            using var answer = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();

            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("Bearer " + key, Assert.Single(upstream.Requests).Authorization);

            // The upstream goes away: the caller gets OpenAI's error shape, the log one line with the cause.
            await upstream.DisposeAsync();
            using var broken = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();
            Assert.Equal(HttpStatusCode.BadGateway, broken.StatusCode);
            Assert.Contains("upstream_unavailable", await broken.Content.ReadAsStringAsync());

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync().Within();
            }
            await process.WaitForExitAsync().Within(what: "the gateway exiting on SIGTERM");
            Assert.Equal(0, process.ExitCode);
            var output = ready + await process.StandardOutput.ReadToEndAsync().Within();
            string errors;
            lock (stderr)
            {
                errors = stderr.ToString();
            }
            Assert.Contains("arith task=- POST /chat/completions 200", errors); // the request's log line
            Assert.Single(errors.Split('\n'), l => l.Contains("upstream failed", StringComparison.Ordinal) && l.Contains("Connection refused", StringComparison.Ordinal));
            Assert.DoesNotContain("   at ", errors); // no stack trace: YARP's own warning for the failure is not logged
            Assert.DoesNotContain("Exception", errors);
            Assert.DoesNotContain(key, output + errors);
            Assert.DoesNotContain(token!, output + errors);
            Assert.False(File.Exists(Path.Combine(directory, "api.sock")), "the socket file is removed on exit");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Process_WithExitWithStdin_StopsCleanlyWhenItsStdinCloses_AsWhenItsStarterIsKilled()
    {
        // The writer's end of the pipe is held by this process only (.NET opens pipes close-on-exec); closing it is
        // what the kernel does when the starter dies, SIGKILL included.
        var directory = Directory.CreateTempSubdirectory("afgw-stdin-").FullName;
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "affinetes-llm-gateway"),
            ["--upstream", "http://127.0.0.1:9/v1", "--unix-socket", Path.Combine(directory, "api.sock"), "--exit-with-stdin"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            Assert.Contains("ready", await process.StandardOutput.ReadLineAsync().Within(what: "the ready line") ?? "");
            using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                await probe.ConnectAsync(new UnixDomainSocketEndPoint(Path.Combine(directory, "api.sock"))).Within();
            }
            Assert.False(process.HasExited, "it serves while its stdin is open");

            process.StandardInput.Close();
            await process.WaitForExitAsync().Within(what: "the gateway stopping after its stdin closed");

            Assert.Equal(0, process.ExitCode);
            Assert.Contains("standard input closed", await stderr.Within());
            Assert.False(File.Exists(Path.Combine(directory, "api.sock")), "a clean stop removes its socket");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Process_BadOptions_ExitWith2AndSayWhy()
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "affinetes-llm-gateway"), ["--upstream", "http://127.0.0.1:9/v1"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var process = Process.Start(start)!;
        var error = await process.StandardError.ReadToEndAsync().Within();
        await process.WaitForExitAsync().Within();

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("--listen", error);
    }
}
