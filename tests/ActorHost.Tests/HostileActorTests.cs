using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Affinetes.ActorHost.Endpoints;
using Affinetes.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Affinetes.ActorHost.Tests;

/// <summary>
/// Buggy and hostile actors and requests (issue 12): every call ends in a JSON answer within its deadline, one broken
/// call never affects another, a host that cannot serve says so, and a following normal call works.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class HostileActorTests
{
    private static readonly Dictionary<string, string> Deadline = new() { ["X-Affinetes-Timeout"] = "0.5" };

    private static async Task<HostUnderTest> StartAsync(int workers = 2, string? tokenHash = null)
    {
        var host = await HostUnderTest.StartAsync("hostile_env.py", o => o with
        {
            PythonWorkers = workers,
            WorkerWriteOff = TimeSpan.FromMilliseconds(500),
            AuthTokenSha256 = tokenHash,
        }, waitReady: tokenHash is null);
        await Bounded.Until(async () =>
        {
            using var health = await host.Client.GetAsync("/health");
            return health.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(30), "the host becoming healthy");
        return host;
    }

    private static string Code(JsonElement body) => body.GetProperty("error").GetProperty("code").GetString()!;

    private static async Task AssertServesAsync(HostUnderTest host)
    {
        var (status, body) = await host.CallAsync("/echo", """{"x":1}""");
        Assert.True(status == HttpStatusCode.OK, $"echo after the hostile calls: {(int)status} {body}");
        (status, body) = await host.CallAsync("/async_echo", """{"x":2}""");
        Assert.True(status == HttpStatusCode.OK, $"async_echo after the hostile calls: {(int)status} {body}");
        using var health = await host.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task SyncInfiniteLoops_PastTheirDeadline_AreInterrupted_AndEveryWorkerServesAgain()
    {
        await using var host = await StartAsync(workers: 2);
        var calls = Enumerable.Range(0, 4).Select(_ => host.CallAsync("/spin", "{}", Deadline));
        foreach (var (status, body) in await Task.WhenAll(calls).Within(TimeSpan.FromSeconds(20), "four spinning calls"))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, status);
            Assert.Equal("deadline_exceeded", Code(body));
        }
        await AssertServesAsync(host);
    }

    [Fact]
    public async Task BlockingCallsPastTheirDeadline_CostTheirWorkers_WhichAreReplaced()
    {
        await using var host = await StartAsync(workers: 2);
        var clock = Stopwatch.StartNew();
        var calls = Enumerable.Range(0, 2).Select(_ => host.CallAsync("/block", """{"seconds":60}""", Deadline));
        foreach (var (status, _) in await Task.WhenAll(calls).Within(TimeSpan.FromSeconds(20), "two blocked calls"))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        }
        // Both workers sit in time.sleep(60): only their replacements can answer this.
        var afterDeadline = Stopwatch.StartNew();
        var (echo, _) = await host.CallAsync("/echo", "{}").Within(TimeSpan.FromSeconds(20), "a call after two workers were lost");
        Assert.Equal(HttpStatusCode.OK, echo);
        Console.WriteLine($"[figures] deadline (write-off grace 0.5 s) -> a replacement worker answers: {afterDeadline.ElapsedMilliseconds} ms");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        await AssertServesAsync(host);
    }

    [Fact]
    public async Task EveryWorkerStuck_HealthAndReadyAre503WithTheReason()
    {
        await using var host = await StartAsync(workers: 1);
        // One stuck worker is replaced; with the second, as many are stuck as there are workers and none is left.
        var (status, _) = await host.CallAsync("/block", """{"seconds":3600}""", Deadline);
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        // The next call waits for the stuck worker's replacement, and is served by it.
        (status, var echoed) = await host.CallAsync("/echo", """{"x":1}""");
        Assert.True(status == HttpStatusCode.OK, $"echo after one stuck worker: {(int)status} {echoed}");
        (status, _) = await host.CallAsync("/block", """{"seconds":3600}""", Deadline);
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        JsonElement ready = default;
        await Bounded.Until(async () =>
        {
            using var response = await host.Client.GetAsync("/ready");
            ready = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            return response.StatusCode == HttpStatusCode.ServiceUnavailable;
        }, TimeSpan.FromSeconds(10), "/ready turning 503");
        Assert.Equal("unhealthy", ready.GetProperty("status").GetString());
        Assert.Contains("stuck", ready.GetProperty("reason").GetString());
        using var health = await host.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Contains("stuck", await health.Content.ReadAsStringAsync());
        var (call, body) = await host.CallAsync("/echo", "{}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, call);
        Assert.Contains("stuck", body.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task SyncMethodReturningANeverEndingCoroutine_DoesNotHoldAWorker()
    {
        await using var host = await StartAsync(workers: 1);
        for (var i = 0; i < 3; i++)
        {
            var (status, _) = await host.CallAsync("/never", "{}", Deadline);
            Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        }
        await AssertServesAsync(host);
    }

    [Fact]
    public async Task AsyncMethodThatNeverYields_IsInterrupted_AndTheLoopRunsAgain()
    {
        await using var host = await StartAsync();
        var (status, _) = await host.CallAsync("/async_spin", "{}", Deadline);
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        await Bounded.Until(async () => (await host.CallAsync("/async_echo", "{}")).Status == HttpStatusCode.OK,
            TimeSpan.FromSeconds(15), "async calls being served again");
        await AssertServesAsync(host);
    }

    [Theory]
    [InlineData("/raise_async", "KeyboardInterrupt")]
    [InlineData("/raise_async", "SystemExit")]
    [InlineData("/raise_async", "GeneratorExit")]
    [InlineData("/raise_async", "Custom")]
    [InlineData("/raise_async", "Unprintable")]
    [InlineData("/raise_sync", "KeyboardInterrupt")]
    [InlineData("/raise_sync", "SystemExit")]
    [InlineData("/raise_sync", "Custom")]
    [InlineData("/raise_sync", "Unprintable")]
    public async Task BaseExceptionsAndUnprintableOnes_AreTheActorsError_AndBreakNothing(string path, string kind)
    {
        await using var host = await StartAsync();
        var (status, body) = await host.CallAsync(path, $$"""{"kind":"{{kind}}"}""").Within(TimeSpan.FromSeconds(10), kind);
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("actor_error", Code(body));
        Assert.Equal(kind, body.GetProperty("error").GetProperty("type").GetString());
        await AssertServesAsync(host);
    }

    [Fact]
    public async Task DeeplyNestedBody_Is400_AndInnocentCallsOfTheSameBatchAreAnswered()
    {
        await using var host = await StartAsync();
        var deep = "{\"x\":" + new string('[', 10_000) + new string(']', 10_000) + "}";
        var innocent = Enumerable.Range(0, 50).Select(i => host.CallAsync("/async_echo", $$"""{"x":{{i}}}""")).ToList();
        var (status, body) = await host.CallAsync("/async_echo", deep);
        var (callStatus, callBody) = await host.CallAsync("/call", "{\"method\":\"async_echo\",\"kwargs\":{\"x\":" + new string('[', 10_000) + new string(']', 10_000) + "}}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_json", Code(body));
        Assert.Equal(HttpStatusCode.BadRequest, callStatus);
        Assert.Equal("invalid_json", Code(callBody));
        foreach (var (s, _) in await Task.WhenAll(innocent).Within(TimeSpan.FromSeconds(20), "the innocent calls"))
        {
            Assert.Equal(HttpStatusCode.OK, s);
        }
    }

    [Fact]
    public async Task ResultsWithoutAJsonForm_OrWhoseConversionRaises_SayWhy()
    {
        await using var host = await StartAsync();
        var (status, body) = await host.CallAsync("/tuple_keys", "{}");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("result_not_serializable", Code(body));
        Assert.Contains("tuple", body.GetProperty("detail").GetString());
        (status, body) = await host.CallAsync("/bad_to_dict", "{}");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("actor_error", Code(body));
        Assert.Equal("ValueError", body.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("conversion failed", body.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task BadClassAttribute_IsLeftOut_AndTheOtherMethodsAreServed()
    {
        await using var host = await StartAsync();
        var methods = await host.Client.GetStringAsync("/methods");
        Assert.DoesNotContain("\"name\":\"h\"", methods);
        Assert.Contains("\"name\":\"echo\"", methods);
        await AssertServesAsync(host);
    }

    [Fact]
    public async Task NanAndInfinity_AreInvalidJson_OnBothRoutes()
    {
        await using var host = await StartAsync();
        foreach (var (path, json) in new[] { ("/echo", """{"x":NaN}"""), ("/echo", """{"x":-Infinity}"""), ("/call", """{"method":"echo","kwargs":{"x":NaN}}""") })
        {
            var (status, body) = await host.CallAsync(path, json);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("invalid_json", Code(body));
        }
    }

    [Fact]
    public async Task QueuedCallPastItsDeadline_IsDroppedAndNeverRuns()
    {
        await using var host = await StartAsync(workers: 1);
        var busy = host.CallAsync("/block", """{"seconds":1.5}""");
        // The blocking call is admitted (and so queued to the only worker) before the late one is sent.
        var calls = host.Services.GetRequiredService<CallEndpoint>();
        await Bounded.Until(() => Task.FromResult(calls.InFlight == 1), TimeSpan.FromSeconds(10), "the blocking call being admitted");
        var (status, _) = await host.CallAsync("/mark", """{"tag":"too-late"}""", new Dictionary<string, string> { ["X-Affinetes-Timeout"] = "0.2" });
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Equal(HttpStatusCode.OK, (await busy.Within(TimeSpan.FromSeconds(10))).Status);
        var (_, marks) = await host.CallAsync("/marks_seen", "{}");
        Assert.DoesNotContain("too-late", marks.GetProperty("result").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task HostRouteNames_AreNotMethodRoutes_AndOnlyGetHealthIsOpenWithAToken()
    {
        await using var open = await StartAsync();
        var (post, body) = await open.CallAsync("/health", "{}");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post);
        Assert.Equal("http_method_not_allowed", Code(body));
        var (viaCall, result) = await open.CallAsync("/call", """{"method":"health"}""");
        Assert.Equal(HttpStatusCode.OK, viaCall);
        Assert.Equal("the actor's own health method", result.GetProperty("result").GetString());

        await using var guarded = await StartAsync(tokenHash: Protocol.HostEnvironment.HashAuthToken("s3cret"));
        var (unauthorized, _) = await guarded.CallAsync("/health", "{}");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized);
        using (var get = await guarded.Client.GetAsync("/health"))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        }
        var (wrong, _) = await guarded.CallAsync("/echo", "{}", new Dictionary<string, string> { ["Authorization"] = "Bearer guess" });
        Assert.Equal(HttpStatusCode.Unauthorized, wrong);
        var (right, _) = await guarded.CallAsync("/echo", "{}", new Dictionary<string, string> { ["Authorization"] = "Bearer s3cret" });
        Assert.Equal(HttpStatusCode.OK, right);
    }

    [Fact]
    public async Task FrameworkAnswers_CarryTheJsonErrorShape()
    {
        await using var host = await StartAsync();
        using var missing = await host.Client.GetAsync("/no/where");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("not_found", Code(JsonDocument.Parse(await missing.Content.ReadAsStringAsync()).RootElement));
        using var wrongMethod = await host.Client.GetAsync("/call");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.Equal("http_method_not_allowed", Code(JsonDocument.Parse(await wrongMethod.Content.ReadAsStringAsync()).RootElement));
        // The host's own error answers keep their code, and every answer names the host's version.
        var (unknown, unknownBody) = await host.CallAsync("/call", """{"method":"no_such_method"}""");
        Assert.Equal(HttpStatusCode.NotFound, unknown);
        Assert.Equal("method_not_found", Code(unknownBody));
        using var ok = await host.Client.GetAsync("/health");
        foreach (var answer in new[] { missing, wrongMethod, ok })
        {
            Assert.Equal(Hosting.HostInfo.Version, Assert.Single(answer.Headers.GetValues(Protocol.WireHeaders.HostVersion)));
        }
    }

    [Fact]
    public async Task TricklingBodies_HoldNoCallSlot()
    {
        await using var host = await HostUnderTest.StartAsync("hostile_env.py", o => o with { MaxConcurrentCalls = 2 });
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(host.Address.Host, host.Address.Port);
                await socket.SendAsync(Encoding.ASCII.GetBytes($"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n\r\n{{\"x\":"));
                sockets.Add(socket);
            }
            await Task.Delay(300);
            var (status, _) = await host.CallAsync("/echo", """{"x":1}""");
            Assert.Equal(HttpStatusCode.OK, status);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }
}
