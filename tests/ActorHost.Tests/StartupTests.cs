using System.Net;
using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

/// <summary>/ready tells the truth before and after the actor exists, with the reason when it cannot.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class StartupTests
{
    [Theory]
    [InlineData("import_error_env.py", "ModuleNotFoundError: No module named 'module_that_does_not_exist_anywhere'")]
    [InlineData("syntax_error_env.py", "has a syntax error at line 2")]
    [InlineData("no_actor_env.py", "defines no class named Actor")]
    [InlineData("ctor_error_env.py", "Failed to initialize Actor: RuntimeError: CHUTES_API_KEY is not set")]
    [InlineData("missing_file_env.py", "does not exist")]
    public async Task BrokenEnvironment_ReadyAnswers503WithTheReason_AndCallsToo(string env, string reason)
    {
        await using var host = await HostUnderTest.StartAsync(env, waitReady: false);
        var ready = await host.WaitForStateAsync("failed");
        Assert.Contains(reason, ready.GetProperty("reason").GetString());

        using var health = await host.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        using var readyResponse = await host.Client.GetAsync("/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, readyResponse.StatusCode);

        var (status, body) = await host.CallAsync("/call", """{"method":"ping"}""");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("not_ready", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains(reason, body.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task HostsStartingTogether_InOneProcess_AllBecomeReady_EachWithItsOwnLimits()
    {
        // One interpreter serves every host of the process: starts that overlap once made one host's bridge vanish
        // from under another's ("Loaded module 'affinetes_bridge' not found in sys.modules").
        var limits = new[] { 1_000, 2_000, 4_000, 8_000, 16_000, 32_000 };
        var hosts = await Task.WhenAll(limits.Select(limit =>
            HostUnderTest.StartAsync("protocol_env.py", o => o with { MaxResultBytes = limit })));
        try
        {
            foreach (var (host, limit) in hosts.Zip(limits))
            {
                // Each host keeps its own result limit: just under it passes, just over it is refused.
                var (status, _) = await host.CallAsync("/big_result", $$"""{"size": {{limit - 2}}}""");
                Assert.Equal(HttpStatusCode.OK, status);
                (status, var body) = await host.CallAsync("/big_result", $$"""{"size": {{limit - 1}}}""");
                Assert.Equal(HttpStatusCode.InternalServerError, status);
                Assert.Contains($"({limit + 1} bytes)", body.GetProperty("error").GetProperty("message").GetString());
            }
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task SlowImport_ReadyIs503Starting_ThenOk()
    {
        await using var host = await HostUnderTest.StartAsync("slow_start_env.py", waitReady: false);
        using (var early = await host.Client.GetAsync("/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, early.StatusCode);
            using var doc = JsonDocument.Parse(await early.Content.ReadAsStringAsync());
            Assert.Equal("starting", doc.RootElement.GetProperty("status").GetString());
        }
        var (status, body) = await host.CallAsync("/ping", "{}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("not_ready", body.GetProperty("error").GetProperty("code").GetString());

        await host.WaitForStateAsync("ok");
        var (okStatus, okBody) = await host.CallAsync("/ping", "{}");
        Assert.Equal(HttpStatusCode.OK, okStatus);
        Assert.Equal("pong", okBody.GetProperty("result").GetString());
    }

    [Fact]
    public async Task ReadyWait_AnswersTheMomentTheActorIsReady()
    {
        await using var host = await HostUnderTest.StartAsync("slow_start_env.py", waitReady: false);
        // The import sleeps 1.5 s: an answer at once would be 503 "starting".
        var (status, body) = await ReadyAsync(host, "wait=20");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ok", body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task ReadyWait_AnswersTheMomentTheStartFails_WithTheReason()
    {
        await using var host = await HostUnderTest.StartAsync("slow_fail_env.py", waitReady: false);
        var (status, body) = await ReadyAsync(host, "wait=20");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("failed", body.GetProperty("status").GetString());
        Assert.Contains("the dataset this environment needs is missing", body.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task ReadyWait_ShorterThanTheStart_SaysStarting()
    {
        await using var host = await HostUnderTest.StartAsync("very_slow_start_env.py", waitReady: false);
        var (status, body) = await ReadyAsync(host, "wait=0.2");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("starting", body.GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("")]
    public async Task ReadyWait_NotSeconds_Is400NamingTheParameter(string value)
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py");
        var (status, body) = await ReadyAsync(host, $"wait={value}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("wait", body.GetProperty("error").GetProperty("parameter").GetString());
        Assert.Equal("invalid_arguments", body.GetProperty("error").GetProperty("code").GetString());
    }

    /// <summary>One <c>GET /ready?QUERY</c>: its status and JSON body (bounded well above the longest wait asked).</summary>
    private static async Task<(HttpStatusCode Status, JsonElement Body)> ReadyAsync(HostUnderTest host, string query)
    {
        using var response = await host.Client.GetAsync($"/ready?{query}").Within(TimeSpan.FromSeconds(30));
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, doc.RootElement.Clone());
    }
}
