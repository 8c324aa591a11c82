using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

/// <summary>Auth, body size, concurrency limit, deadlines and concurrency of async and plain methods.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class LimitsTests
{
    [Fact]
    public async Task AuthToken_RequiredEverywhereButHealth()
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py", o => o with { AuthToken = "s3cret-token" }, waitReady: false);
        using (var health = await host.Client.GetAsync("/health").Within())
        {
            Assert.NotEqual(HttpStatusCode.Unauthorized, health.StatusCode);
        }
        foreach (var path in new[] { "/ready", "/methods", "/openapi.json" })
        {
            using var response = await host.Client.GetAsync(path).Within();
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        var (status, body) = await host.CallAsync("/echo", """{"x":1}""");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("unauthorized", body.GetProperty("error").GetProperty("code").GetString());
        (status, _) = await host.CallAsync("/echo", """{"x":1}""", new Dictionary<string, string> { ["Authorization"] = "Bearer wrong" });
        Assert.Equal(HttpStatusCode.Unauthorized, status);

        host.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-token");
        await host.WaitForStateAsync("ok");
        (status, body) = await host.CallAsync("/echo", """{"x":1}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, body.GetProperty("result").GetProperty("x").GetInt32());
    }

    [Fact]
    public async Task ResultOverTheHostsLimit_IsRefusedAsResultTooLarge_NamingSizeAndLimit()
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py", o => o with { MaxResultBytes = 64 * 1024 });
        var (status, body) = await host.CallAsync("/big_result", """{"size": 300000}""");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        var error = body.GetProperty("error");
        Assert.Equal(ErrorCodes.ResultTooLarge, error.GetProperty("code").GetString());
        Assert.Equal("the result is 293 KiB (300002 bytes), over the host's limit of 64 KiB; nothing of it was sent (return less, or raise AFFINETES_MAX_RESULT_BYTES)",
            error.GetProperty("message").GetString());

        // Just under the limit passes whole; the host serves on.
        (status, body) = await host.CallAsync("/big_result", """{"size": 65000}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(65000, body.GetProperty("result").GetString()!.Length);
    }

    [Fact]
    public async Task ResultOverTheCallersLimit_IsRefused_TheCallersLimitNamed()
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py");
        var headers = new Dictionary<string, string> { [WireHeaders.MaxResultBytes] = "10000" };
        var (status, body) = await host.CallAsync("/big_result", """{"size": 20000}""", headers);
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("the result of big_result is 19.5 KiB (20002 bytes), over the caller's limit of 9.8 KiB; nothing of it was sent",
            body.GetProperty("error").GetProperty("message").GetString());
        (status, _) = await host.CallAsync("/big_result", """{"size": 9000}""", headers);
        Assert.Equal(HttpStatusCode.OK, status);
        // A header that is not a positive number is no limit of the caller's; the host's own applies.
        (status, _) = await host.CallAsync("/big_result", """{"size": 20000}""", new Dictionary<string, string> { [WireHeaders.MaxResultBytes] = "lots" });
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Theory]
    [InlineData(900, true, null)]
    [InlineData(10_000, false, "the result is nested too deeply to be written as JSON")]
    public async Task DeeplyNestedResults_AreServedUpToPythonsLimit_ThenSaidSo(int depth, bool served, string? message)
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py");
        if (served)
        {
            using var response = await host.PostAsync("/deep_result", $$"""{"depth": {{depth}}}""");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var text = await response.Content.ReadAsStringAsync();
            using var parsed = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = ResultLimits.MaxDepth + 1 });
            Assert.Contains(new string('[', depth + 1) + "]", text);
            return;
        }
        var (status, body) = await host.CallAsync("/deep_result", $$"""{"depth": {{depth}}}""");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.StartsWith(message!, body.GetProperty("error").GetProperty("message").GetString());
        Assert.DoesNotContain("circular", body.GetProperty("error").GetProperty("message").GetString());
        var (_, circular) = await host.CallAsync("/circular_result", "{}");
        Assert.Equal("the result refers to itself (circular reference)", circular.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task BodyOverLimit_Returns413_AndTheHostKeepsServing()
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py", o => o with { MaxBodyBytes = 64 * 1024 });
        var big = new string('a', 100 * 1024);
        var (status, body) = await host.CallAsync("/identity", $$"""{"value":"{{big}}"}""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("payload_too_large", body.GetProperty("error").GetProperty("code").GetString());

        // Chunked (no Content-Length) bodies are cut off at the limit too.
        var content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes($$"""{"value":"{{big}}"}""")));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/identity") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using (var chunked = await host.Client.SendAsync(request).Within())
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunked.StatusCode);
        }

        var (okStatus, _) = await host.CallAsync("/identity", """{"value":"small"}""");
        Assert.Equal(HttpStatusCode.OK, okStatus);
    }

    [Fact]
    public async Task OverConcurrencyLimit_Returns503WithRetryAfter_InsteadOfQueueing()
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py", o => o with { MaxConcurrentCalls = 2 });
        var marker = Path.Combine(Path.GetTempPath(), $"affinetes-limit-{Guid.NewGuid():N}");
        var slow = Enumerable.Range(0, 2).Select(i => host.CallAsync("/sleep", $$"""{"ms":1500,"tag":"limit{{i}}","marker":"{{marker}}"}""")).ToList();
        await Bounded.Until(() => Task.FromResult(File.Exists(marker) && File.ReadAllLines(marker).Length == 2),
            TimeSpan.FromSeconds(10), "both slow calls running");
        File.Delete(marker);

        using var refused = await host.PostAsync("/echo", """{"x":1}""").Within();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("1", refused.Headers.RetryAfter!.ToString());
        Assert.Contains("overloaded", await refused.Content.ReadAsStringAsync());

        foreach (var call in slow)
        {
            Assert.Equal(HttpStatusCode.OK, (await call.Within()).Status);
        }
        var (after, _) = await host.CallAsync("/echo", """{"x":1}""");
        Assert.Equal(HttpStatusCode.OK, after);
    }

    [Fact]
    public async Task Deadline_CancelsTheCoroutine_AndAnswers504()
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py");
        var clock = Stopwatch.StartNew();
        var (status, body) = await host.CallAsync("/sleep", """{"ms":30000,"tag":"doomed"}""",
            new Dictionary<string, string> { [WireHeaders.Timeout] = "0.3" });
        clock.Stop();
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Equal("deadline_exceeded", body.GetProperty("error").GetProperty("code").GetString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the 0.3 s deadline answered after {clock.Elapsed}");

        // The coroutine itself saw CancelledError: the work really stopped.
        await Bounded.Until(async () =>
        {
            var (_, state) = await host.CallAsync("/cancellations", "{}");
            return state.GetProperty("result").GetProperty("cancelled").EnumerateArray().Any(t => t.GetString() == "doomed");
        }, TimeSpan.FromSeconds(5), "the actor observing the cancellation");
    }

    [Fact]
    public async Task DefaultCallTimeout_Option_AppliesWithoutHeader()
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py", o => o with { CallTimeout = TimeSpan.FromMilliseconds(200) });
        var (status, _) = await host.CallAsync("/sleep", """{"ms":20000,"tag":"default-deadline"}""");
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        var (fast, _) = await host.CallAsync("/sleep", """{"ms":1,"tag":"fast"}""");
        Assert.Equal(HttpStatusCode.OK, fast);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("0")]
    public async Task BadTimeoutHeader_Returns400(string value)
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py");
        var (status, body) = await host.CallAsync("/echo", """{"x":1}""", new Dictionary<string, string> { [WireHeaders.Timeout] = value });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(WireHeaders.Timeout, body.GetProperty("error").GetProperty("parameter").GetString());
    }

    [Fact]
    public async Task FiftyConcurrentAsyncCalls_Overlap()
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py");
        await host.CallAsync("/sleep", """{"ms":1}"""); // warm the path
        var clock = Stopwatch.StartNew();
        var calls = Enumerable.Range(0, 50).Select(i => host.CallAsync("/sleep", $$"""{"ms":200,"tag":"c{{i}}"}""")).ToList();
        var results = await Task.WhenAll(calls).Within(TimeSpan.FromSeconds(30));
        clock.Stop();
        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.Equal(50, results.Select(r => r.Body.GetProperty("result").GetProperty("tag").GetString()).Distinct().Count());
        // One after another they would take 10 s; overlapping on the event loop, about 0.2 s.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"50 concurrent 200 ms sleeps took {clock.Elapsed.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task BlockingPlainMethods_RunOnWorkerThreads_AndReleaseTheGil()
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py", o => o with { PythonWorkers = 4 });
        var clock = Stopwatch.StartNew();
        var blocked = Enumerable.Range(0, 4).Select(_ => host.CallAsync("/block", """{"seconds":0.5}""")).ToList();
        // While they block in time.sleep, other calls still get through.
        var (echo, _) = await host.CallAsync("/echo", """{"x":1}""");
        Assert.Equal(HttpStatusCode.OK, echo);
        await Task.WhenAll(blocked).Within();
        clock.Stop();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.8), $"4 blocking 0.5 s calls on 4 workers took {clock.Elapsed.TotalMilliseconds:0} ms");
    }
}
