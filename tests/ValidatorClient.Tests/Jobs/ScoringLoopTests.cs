using System.Threading.Channels;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Jobs;
using Affinetes.ValidatorClient.Miners;
using Microsoft.Extensions.Time.Testing;

namespace Affinetes.ValidatorClient.Tests.Jobs;

/// <summary>The validator's loop on fake time, its cycles scripted (no container): when cycles start, what a failed or slow cycle does, how it ends.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ScoringLoopTests
{
    private static readonly TimeSpan Every = TimeSpan.FromMinutes(30);
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static ScoringJob Job() => new()
    {
        Miners = MinersSource.FromFile("/nonexistent/miners.json"),
        Environment = new EnvironmentOptions(),
        Request = new EvaluationRequest { TaskIds = [1] },
        Model = new ModelEndpoint { BaseUrl = "http://127.0.0.1:1/v1" },
    };

    private static ScoreReport Report() => new(null, [], [], null, null, "evaluate", null);

    /// <summary>A scripted cycle: each call waits for the test to answer it (a report, or an exception).</summary>
    private sealed class ScriptedCycles
    {
        private readonly Channel<TaskCompletionSource<ScoreReport>> _calls = Channel.CreateUnbounded<TaskCompletionSource<ScoreReport>>();

        public Task<ScoreReport> RunAsync(ScoringJob job, IProgress<MinerScore>? scored, IProgress<string>? notes, CancellationToken cancellationToken)
        {
            var call = new TaskCompletionSource<ScoreReport>(TaskCreationOptions.RunContinuationsAsynchronously);
            cancellationToken.Register(() => call.TrySetCanceled(cancellationToken));
            _calls.Writer.TryWrite(call);
            return call.Task;
        }

        public Task<TaskCompletionSource<ScoreReport>> NextAsync() => _calls.Reader.ReadAsync().AsTask().Within(what: "the next cycle starting");

        public bool Started => _calls.Reader.TryPeek(out _);
    }

    private sealed class Cycles : IProgress<ScoringCycle>
    {
        private readonly Channel<ScoringCycle> _seen = Channel.CreateUnbounded<ScoringCycle>();

        public void Report(ScoringCycle value) => _seen.Writer.TryWrite(value);

        public Task<ScoringCycle> NextAsync() => _seen.Reader.ReadAsync().AsTask().Within(what: "a cycle's report");
    }

    [Fact]
    public async Task CyclesStartEveryInterval_FromTheLastStart_OnlyWhenTheClockGetsThere()
    {
        var time = new FakeTimeProvider(Start);
        var script = new ScriptedCycles();
        var cycles = new Cycles();
        using var stop = new CancellationTokenSource();
        var loop = new ScoringLoop(script.RunAsync, time, null).RunAsync(Job(), Every, cycles, cancellationToken: stop.Token);

        (await script.NextAsync()).SetResult(Report());
        var first = await cycles.NextAsync();
        Assert.Equal(1, first.Number);
        Assert.Equal(Start, first.StartedAt);
        Assert.Equal(Start + Every, first.NextAt);

        time.Advance(Every - TimeSpan.FromSeconds(1));
        await Task.Delay(50);
        Assert.False(script.Started); // not a second early
        time.Advance(TimeSpan.FromSeconds(1));
        var second = await script.NextAsync();
        time.Advance(TimeSpan.FromMinutes(5)); // the cycle takes five minutes
        second.SetResult(Report());
        var secondReport = await cycles.NextAsync();
        Assert.Equal(2, secondReport.Number);
        Assert.Equal(TimeSpan.FromMinutes(5), secondReport.Took);
        Assert.Equal(Start + 2 * Every, secondReport.NextAt); // from its start, not its end

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop).Within(what: "the loop ending between cycles");
    }

    [Fact]
    public async Task ACycleLongerThanTheInterval_TheNextStartsAtOnce()
    {
        var time = new FakeTimeProvider(Start);
        var script = new ScriptedCycles();
        var cycles = new Cycles();
        using var stop = new CancellationTokenSource();
        var loop = new ScoringLoop(script.RunAsync, time, null).RunAsync(Job(), Every, cycles, cancellationToken: stop.Token);
        var first = await script.NextAsync();
        time.Advance(Every + TimeSpan.FromMinutes(10));
        first.SetResult(Report());
        Assert.Equal(Start + Every + TimeSpan.FromMinutes(10), (await cycles.NextAsync()).NextAt);
        (await script.NextAsync()).SetResult(Report()); // started without the clock moving
        await cycles.NextAsync();
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop).Within();
    }

    [Fact]
    public async Task AFailedCycle_IsReported_AndTheLoopGoesOn_ButAJobThatCannotRunEndsIt()
    {
        var time = new FakeTimeProvider(Start);
        var script = new ScriptedCycles();
        var cycles = new Cycles();
        using var stop = new CancellationTokenSource();
        var loop = new ScoringLoop(script.RunAsync, time, null).RunAsync(Job(), Every, cycles, cancellationToken: stop.Token);
        (await script.NextAsync()).SetException(new MinersSourceException("the subtensor node did not answer", retryable: true));
        var failed = await cycles.NextAsync();
        Assert.Null(failed.Report);
        Assert.Contains("did not answer", failed.Error, StringComparison.Ordinal);
        time.Advance(Every);
        (await script.NextAsync()).SetException(new JobOptionsException(["the store cannot be written"]));
        await Assert.ThrowsAsync<JobOptionsException>(() => loop).Within(what: "the loop ending on a job that cannot run");
    }

    [Fact]
    public async Task CancelledDuringACycle_TheCycleIsCancelledAndTheLoopEnds()
    {
        var time = new FakeTimeProvider(Start);
        var script = new ScriptedCycles();
        using var stop = new CancellationTokenSource();
        var loop = new ScoringLoop(script.RunAsync, time, null).RunAsync(Job(), Every, cancellationToken: stop.Token);
        var running = await script.NextAsync();
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop).Within();
        Assert.True(running.Task.IsCanceled);
    }
}
