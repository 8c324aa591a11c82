using System.Diagnostics;
using System.Net;
using System.Text;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

[Trait(Tiers.Name, Tiers.Host)]
public sealed class HostProcessTests
{
    private static Dictionary<string, string> Env(string envFile, params (string, string)[] more)
    {
        var env = new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = HostUnderTest.EnvPath(envFile) };
        foreach (var (k, v) in more)
        {
            env[k] = v;
        }
        return env;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Sigterm_DrainsInFlightCalls_RefusesNewOnes_AndExitsPromptly()
    {
        await using var host = HostProcess.Start(Env("protocol_env.py", ("AFFINETES_SHUTDOWN_GRACE", "10")));
        await host.WaitReadyAsync();
        var inFlight = host.Client.PostAsync("/sleep", Json("""{"ms":1500,"tag":"drain"}"""));
        await Bounded.Until(async () =>
        {
            using var r = await host.Client.PostAsync("/cancellations", Json("{}"));
            return (await r.Content.ReadAsStringAsync()).Contains("drain");
        }, TimeSpan.FromSeconds(10), "the call being in flight");

        var clock = Stopwatch.StartNew();
        host.SendSigterm();
        using var answer = await inFlight.Within(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Contains("\"tag\":\"drain\"", await answer.Content.ReadAsStringAsync());
        var exitCode = await host.WaitForExitAsync(TimeSpan.FromSeconds(10));
        clock.Stop();
        Assert.Equal(0, exitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(6), $"exit took {clock.Elapsed.TotalMilliseconds:0} ms after SIGTERM with 1.5 s of work left");
    }

    [Fact]
    public async Task Sigterm_WhileStarting_AnswersPendingReadyWaits_AndExits()
    {
        // The import takes 30 s; a client waits on /ready?wait; docker stop arrives meanwhile.
        await using var host = HostProcess.Start(Env("very_slow_start_env.py", ("AFFINETES_SHUTDOWN_GRACE", "10")));
        await Bounded.Until(async () =>
        {
            try
            {
                using var r = await host.Client.GetAsync("/health");
                return true;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(10), "the host listening");
        var waiting = host.Client.GetAsync("/ready?wait=30");
        await Task.Delay(500); // let the request reach the host and start waiting before the signal
        host.SendSigterm();
        using var answer = await waiting.Within(TimeSpan.FromSeconds(8), "the pending /ready?wait answering on SIGTERM");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
        await host.WaitForExitAsync(TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task WatchesNoFiles_SoABigEnvironmentDirectoryCostsNothing()
    {
        // ASP.NET's defaults watch the content root recursively (inotify): per container an inotify instance, and
        // start-up time for every directory of the environment. The host reads no settings files, so it watches none.
        await using var host = HostProcess.Start(Env("protocol_env.py"));
        await host.WaitReadyAsync();
        var watchers = Directory.GetFiles($"/proc/{host.Process.Id}/fd")
            .Select(fd => { try { return new FileInfo(fd).LinkTarget; } catch (IOException) { return null; } })
            .Count(target => target == "anon_inode:inotify");
        Assert.Equal(0, watchers);
    }

    [Fact]
    public async Task Sigterm_WhenIdle_DoesNotWaitOutTheDrainGrace()
    {
        // With nothing in flight there is nothing to drain: the host exits without waiting its (long) grace period.
        // How fast it exits is the benchmark's business; that it does not wait the grace is this test's.
        await using var host = HostProcess.Start(Env("protocol_env.py", ("AFFINETES_SHUTDOWN_GRACE", "120")));
        await host.WaitReadyAsync();
        host.SendSigterm();
        Assert.Equal(0, await host.WaitForExitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task Actor_SeesContainerEnvironment_AndIsConstructedOnce()
    {
        await using var host = HostProcess.Start(Env("protocol_env.py", ("CHUTES_API_KEY", "key-from-environment")));
        await host.WaitReadyAsync();
        using var env = await host.Client.PostAsync("/environment", Json("""{"name":"CHUTES_API_KEY"}"""));
        Assert.Contains("\"result\":\"key-from-environment\"", await env.Content.ReadAsStringAsync());
        for (var i = 0; i < 3; i++)
        {
            using var r = await host.Client.PostAsync("/counters", Json("{}"));
            Assert.Contains("\"constructed\":1", await r.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Logs_OneLinePerCall_WithoutArgumentsOrSecrets_AndActorOutputReachesStdout()
    {
        await using var host = HostProcess.Start(Env("protocol_env.py", ("AFFINETES_AUTH_TOKEN", "tok-secret-123")));
        host.Client.DefaultRequestHeaders.Authorization = new("Bearer", "tok-secret-123");
        await host.WaitReadyAsync();
        using (await host.Client.PostAsync("/echo", Json("""{"x":1,"text":"confidential-argument-value"}"""))) { }
        using (await host.Client.PostAsync("/say", Json("""{"text":"hello-from-actor"}"""))) { }
        using (await host.Client.PostAsync("/fail", Json("{}"))) { }
        await Bounded.Until(() => Task.FromResult(host.Output.Contains("call fail 500")), TimeSpan.FromSeconds(10), "the call log lines");
        var output = host.Output;
        Assert.Contains("actor says: hello-from-actor", output);
        Assert.Single(output.Split('\n'), l => l.Contains("call echo 200"));
        Assert.Contains("call say 200", output);
        Assert.DoesNotContain("confidential-argument-value", output);
        Assert.DoesNotContain("tok-secret-123", output);
    }

    [Fact]
    public async Task NoSharedLibpython_ExitsWithOneLineSayingWhatToInstall()
    {
        var fake = Path.Combine(Path.GetTempPath(), $"fake-python-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(fake, """
            #!/bin/sh
            echo '{"candidates":["/nonexistent/lib/libpython3.11.so.1.0"],"home":"/usr","version":"3.11","path":[],"executable":"/usr/bin/python3"}'
            """);
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
        try
        {
            await using var host = HostProcess.Start(Env("protocol_env.py", ("AFFINETES_PYTHON", fake)));
            Assert.Equal(3, await host.WaitForExitAsync(TimeSpan.FromSeconds(20)));
            var failure = Assert.Single(host.Output.Split('\n'), l => l.Contains("libpython"));
            Assert.Contains("apt-get install -y libpython3.11", failure);
        }
        finally
        {
            File.Delete(fake);
        }
    }

    [Fact]
    public async Task Check_LoadsEnvWithoutServing_AndFailsWithTheReason()
    {
        await using (var ok = HostProcess.Start(Env("protocol_env.py"), "--check"))
        {
            Assert.Equal(0, await ok.WaitForExitAsync(TimeSpan.FromSeconds(20)));
            Assert.Contains("ok:", ok.Output);
        }
        await using var broken = HostProcess.Start(Env("syntax_error_env.py"), "--check");
        Assert.Equal(1, await broken.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("syntax error at line 2", broken.Output);
    }

    [Fact]
    public async Task PortInUse_ExitsWith2AndSaysSo()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var host = HostProcess.Start(Env("protocol_env.py", ("AFFINETES_PORT", port)));
        Assert.Equal(2, await host.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains($"127.0.0.1:{port} is already in use", host.Output);
    }

    [Fact]
    public async Task BadOption_ExitsWith2AndSaysHowToFix()
    {
        await using var host = HostProcess.Start(Env("protocol_env.py", ("AFFINETES_MAX_CONCURRENCY", "lots")));
        Assert.Equal(2, await host.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("AFFINETES_MAX_CONCURRENCY / --max-concurrency is 'lots'", host.Output);
    }

    [Fact]
    public async Task ActorTakingSigtermAtImport_DoesNotStopTheHostFromStopping()
    {
        await using var host = HostProcess.Start(Env("hostile_env.py"));
        await host.WaitReadyAsync();
        host.SendSigterm();
        Assert.Equal(0, await host.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Contains("asked to handle SIGTERM; the host keeps it", host.Output);
    }

    [Fact]
    public async Task Unservable_Answers503_ThenExitsWithCode4_SoTheContainerIsReplaced()
    {
        await using var host = HostProcess.Start(Env("hostile_env.py",
            ("AFFINETES_PYTHON_WORKERS", "1"), ("AFFINETES_WORKER_WRITE_OFF", "0.5"), ("AFFINETES_UNSERVABLE_GRACE", "2")));
        await host.WaitReadyAsync();
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/block") { Content = Json("""{"seconds":3600}""") };
            request.Headers.Add("X-Affinetes-Timeout", "0.3");
            using var stuck = await host.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.GatewayTimeout, stuck.StatusCode);
            if (i == 0)
            {
                // The next call waits for the stuck worker's replacement, and is served by it.
                using var echo = await host.Client.PostAsync("/echo", Json("""{"x":1}"""));
                Assert.Equal(HttpStatusCode.OK, echo.StatusCode);
            }
        }
        var lastDeadline = Stopwatch.StartNew();
        await Bounded.Until(async () =>
        {
            try
            {
                using var health = await host.Client.GetAsync("/health");
                return health.StatusCode == HttpStatusCode.ServiceUnavailable;
            }
            catch (HttpRequestException)
            {
                return true; // already gone
            }
        }, TimeSpan.FromSeconds(10), "/health turning 503");
        var unhealthyAfter = lastDeadline.Elapsed;
        Assert.Equal(4, await host.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("exiting: the host could not serve", host.Output);
        Console.WriteLine($"[figures] stuck call's deadline -> 503: {unhealthyAfter.TotalMilliseconds:0} ms; -> exit: {lastDeadline.Elapsed.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task PlainAuthToken_IsVerified_ButHiddenFromTheActor()
    {
        await using var host = HostProcess.Start(Env("hostile_env.py", ("AFFINETES_AUTH_TOKEN", "plain-secret-42")));
        await host.WaitReadyAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/token_visible") { Content = Json("{}") };
        request.Headers.Add("Authorization", "Bearer plain-secret-42");
        using var answer = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Contains("\"result\":null", await answer.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Sigterm_WithWorkersStuckInBlockingCalls_ExitsWithinTheGrace()
    {
        await using var host = HostProcess.Start(Env("hostile_env.py", ("AFFINETES_PYTHON_WORKERS", "2"), ("AFFINETES_SHUTDOWN_GRACE", "2")));
        await host.WaitReadyAsync();
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/block") { Content = Json("""{"seconds":3600}""") };
            request.Headers.Add("X-Affinetes-Timeout", "0.3");
            using var stuck = await host.Client.SendAsync(request);
        }
        var clock = Stopwatch.StartNew();
        host.SendSigterm();
        await host.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Console.WriteLine($"[figures] SIGTERM with 2 workers stuck in C calls -> exit: {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Sigterm_WithAQuickCallStuckOnTheRequestsThread_ExitsOnceTheGraceEnds()
    {
        await using var host = HostProcess.Start(Env("hostile_env.py", ("AFFINETES_PYTHON_WORKERS", "4"), ("AFFINETES_SHUTDOWN_GRACE", "2")));
        await host.WaitReadyAsync();
        // Quick once its last 16 calls each took under 1 ms: on a busy machine one may not, and then the long call goes
        // to a worker (answered without Connection: close). Up to 4 tries, each costing at most a worker.
        var onItsOwnThread = false;
        for (var attempt = 0; attempt < 4 && !onItsOwnThread; attempt++)
        {
            for (var i = 0; i < 3 * Runtimes.Python.MethodPace.Streak; i++)
            {
                using var quick = await host.Client.PostAsync("/block", Json("""{"seconds":0}"""));
                Assert.Equal(HttpStatusCode.OK, quick.StatusCode);
            }
            // Quick now: this call runs on the request's own thread, and sits there in time.sleep(3600) after its 504.
            using var request = new HttpRequestMessage(HttpMethod.Post, "/block") { Content = Json("""{"seconds":3600}""") };
            request.Headers.Add("X-Affinetes-Timeout", "0.3");
            using var stuck = await host.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.GatewayTimeout, stuck.StatusCode);
            onItsOwnThread = stuck.Headers.ConnectionClose == true; // the answer of a call still holding its connection
        }
        Assert.True(onItsOwnThread, "in 4 tries, the long call never ran on its request's thread");
        var clock = Stopwatch.StartNew();
        host.SendSigterm();
        // Kestrel waits for the request's thread until the drain grace ends (then ~1 s for the connections it aborts).
        await host.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Console.WriteLine($"[figures] SIGTERM with a quick call stuck on its request's thread (grace 2 s) -> exit: {clock.ElapsedMilliseconds} ms");
    }
}
