using System.Net;
using System.Text.Json;
using Affinetes.ActorHost.Endpoints;
using Affinetes.ActorHost.Runtimes;
using Affinetes.ActorHost.Runtimes.Python;
using Affinetes.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Affinetes.ActorHost.Tests;

/// <summary>
/// Plain methods whose calls are all quick run on the thread that queued them (issue 27), and that shortcut never
/// costs what the dedicated workers guarantee: a quick method that turns slow hands the calls behind it to the
/// workers, and one stuck past its deadline is written off while calls go on.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class QuickCallTests
{
    private static Task<HostUnderTest> StartAsync(int workers) => HostUnderTest.StartAsync("hostile_env.py", o => o with
    {
        PythonWorkers = workers,
        WorkerWriteOff = TimeSpan.FromMilliseconds(500),
    });

    /// <summary>Enough quick calls of each method for it to count as quick.</summary>
    private static async Task WarmAsync(HostUnderTest host, params (string Path, string Body)[] calls)
    {
        foreach (var (path, body) in calls)
        {
            for (var i = 0; i < 3 * Runtimes.Python.MethodPace.Streak; i++)
            {
                var (status, answer) = await host.CallAsync(path, body);
                Assert.True(status == HttpStatusCode.OK, $"{path}: {(int)status} {answer}");
            }
        }
    }

    [Fact]
    public async Task QuickMethods_LeaveTheDedicatedWorker_ForTheThreadsThatQueueThem()
    {
        await using var host = await StartAsync(workers: 1);
        var threads = new List<long>();
        for (var i = 0; i < 4 * Runtimes.Python.MethodPace.Streak; i++)
        {
            var (status, body) = await host.CallAsync("/thread", "{}");
            Assert.Equal(HttpStatusCode.OK, status);
            threads.Add(body.GetProperty("result").GetInt64());
        }
        // The first calls run on the only worker; once the method is quick, on the thread pool's threads.
        Assert.All(threads.Take(Runtimes.Python.MethodPace.Streak), t => Assert.Equal(threads[0], t));
        Assert.Contains(threads.Skip(Runtimes.Python.MethodPace.Streak), t => t != threads[0]);
    }

    [Fact]
    public async Task AQuickMethodTurningSlow_HandsTheCallsBehindItToTheWorkers()
    {
        await using var host = await StartAsync(workers: 2);
        await WarmAsync(host, ("/block", """{"seconds":0}"""), ("/echo", """{"x":1}"""));
        var slow = host.CallAsync("/block", """{"seconds":4}""");
        var calls = host.Services.GetRequiredService<CallEndpoint>();
        await Bounded.Until(() => Task.FromResult(calls.InFlight == 1), TimeSpan.FromSeconds(10), "the slow call being admitted");
        var echoes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => host.CallAsync("/echo", $$"""{"x":{{i}}}""")))
            .Within(TimeSpan.FromSeconds(20), "echo calls behind the slow one");
        // Answered while the slow call still sleeps: a dedicated worker took them, not the thread stuck behind it.
        Assert.False(slow.IsCompleted, "the echo calls waited for the slow call to end");
        Assert.All(echoes, e => Assert.Equal(HttpStatusCode.OK, e.Status));
        Assert.Equal(HttpStatusCode.OK, (await slow.Within(TimeSpan.FromSeconds(20), "the slow call")).Status);
    }

    [Fact]
    public async Task AQuickMethodStuckPastItsDeadline_IsWrittenOff_AndQuickCallsRunOnOtherThreads()
    {
        await using var host = await StartAsync(workers: 1);
        var (_, first) = await host.CallAsync("/thread", "{}");
        var worker = first.GetProperty("result").GetInt64(); // not quick yet: the dedicated worker's thread
        await WarmAsync(host, ("/block", """{"seconds":0}"""), ("/echo", """{"x":1}"""), ("/thread", "{}"));
        var (status, body) = await host.CallAsync("/block", """{"seconds":3600}""", new Dictionary<string, string> { ["X-Affinetes-Timeout"] = "0.5" });
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Equal("deadline_exceeded", body.GetProperty("error").GetProperty("code").GetString());
        // A thread of the pool sits in time.sleep(3600): the calls queued behind it go to the worker at once, and once
        // the stuck thread is written off, quick calls have a drainer again (a thread other than the worker's).
        var echoes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => host.CallAsync("/echo", $$"""{"x":{{i}}}""")))
            .Within(TimeSpan.FromSeconds(20), "echo calls after the stuck one");
        Assert.All(echoes, e => Assert.Equal(HttpStatusCode.OK, e.Status));
        await Bounded.Until(async () =>
        {
            var (_, answer) = await host.CallAsync("/thread", "{}");
            return answer.GetProperty("result").GetInt64() != worker;
        }, TimeSpan.FromSeconds(10), "a quick call served by a new drainer");
        var (async, _) = await host.CallAsync("/async_echo", """{"x":2}""");
        Assert.Equal(HttpStatusCode.OK, async);
        using var health = await host.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode); // a stuck thread of the pool costs no worker
        (status, _) = await host.CallAsync("/block", """{"seconds":0.1}""");
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task AQuickMethodStuckPastItsDeclaredTimeout_GetsTheOriginalsFailedAnswer()
    {
        await using var host = await StartAsync(workers: 1);
        await WarmAsync(host, ("/wait", """{"seconds":0}"""), ("/echo", """{"x":1}"""));
        // timeout -9.5 + the 10 s grace: the call is given up after 0.5 s, while it sits in time.sleep(3600).
        var (status, body) = await host.CallAsync("/call", """{"method":"wait","args":[],"kwargs":{"seconds":3600,"timeout":-9.5}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("failed", body.GetProperty("status").GetString());
        Assert.Contains("timeout", body.GetProperty("result").GetProperty("error").GetString(), StringComparison.OrdinalIgnoreCase);
        var (echo, _) = await host.CallAsync("/echo", """{"x":2}""");
        Assert.Equal(HttpStatusCode.OK, echo);
    }

    [Fact]
    public async Task ADrainersThreadThatEnds_HasItsPythonThreadStateDeleted_AndCallsGoOn()
    {
        await using var host = await StartAsync(workers: 1);
        await WarmAsync(host, ("/echo", """{"x":1}"""));
        var runtime = (PythonRuntime)host.Services.GetRequiredService<IActorRuntime>();
        var echo = runtime.Methods.Single(m => m.Name == "echo");
        InvokeResult? result = null;
        // No other call is running: this thread drains its own call, with a Python thread state of its own.
        var thread = new Thread(() => result = runtime.InvokeAsync(echo, """{"x":7}"""u8.ToArray(), BodyShape.Flat, CancellationToken.None).GetAwaiter().GetResult());
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(20)), "the call on its own thread");
        Assert.True(result is { Succeeded: true }, $"the call on its own thread: {result?.Error?.Message}");
        Assert.Equal("""{"x":7}""", System.Text.Encoding.UTF8.GetString(result!.Value.ResultJson.Span));
        Assert.Contains(runtime.Pool!.Snapshot(), w => w.Pooled && w.Thread == thread);
        // The thread has ended: its drainer and thread state go (the interrupter looks once a second, under the GIL).
        await Bounded.Until(() => Task.FromResult(!runtime.Pool.Snapshot().Any(w => w.Thread == thread)), TimeSpan.FromSeconds(10),
            "the ended thread's drainer being forgotten");
        var calls = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => host.CallAsync("/echo", $$"""{"x":{{i}}}""")));
        Assert.All(calls, c => Assert.Equal(HttpStatusCode.OK, c.Status));
    }
}
