using System.Collections.Concurrent;
using System.Threading.Channels;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Pooling;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Affinetes.ValidatorClient.Tests.Pooling;

/// <summary>The health monitor alone, on fake time, with a fake prober and a fake replica set: no socket, no backend.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ReplicaHealthMonitorTests
{
    private static readonly ReplicaHealthOptions Options = new(); // probes every 1 s, unresponsive after 2 missed, replaced after 10 s

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddDays(1));
    private readonly FakeProber _prober;
    private readonly FakeReplicas _replicas = new();

    public ReplicaHealthMonitorTests()
    {
        _prober = new FakeProber(_time);
    }

    private Replica AddReplica(int index = 0)
    {
        var replica = new Replica(index, new ReplicaEndpoint($"r{index}", new Uri($"http://127.0.0.1:{1000 + index}/"), $"r{index}"),
            new ReplicaHealth(Options, _time));
        _replicas.Replicas.Add(replica);
        return replica;
    }

    private ReplicaHealthMonitor Monitor() => new(_replicas, _prober, Options.ProbeInterval, _time, NullLogger.Instance, "test");

    private async Task MissProbesAsync(ReplicaHealthMonitor monitor, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await monitor.CheckAllAsync(CancellationToken.None).Within();
        }
    }

    [Fact]
    public async Task Rounds_RunEveryProbeInterval_OnItsTimeProvider()
    {
        var replica = AddReplica();
        await using var monitor = Monitor();
        var start = _time.GetUtcNow();
        monitor.Start();

        _time.Advance(Options.ProbeInterval - TimeSpan.FromTicks(1));
        _time.Advance(TimeSpan.FromTicks(1));
        var first = await _prober.Probes.Reader.ReadAsync().AsTask().Within();
        _time.Advance(Options.ProbeInterval);
        var second = await _prober.Probes.Reader.ReadAsync().AsTask().Within();

        Assert.Equal((replica.Endpoint, start + Options.ProbeInterval), first);
        Assert.Equal((replica.Endpoint, start + 2 * Options.ProbeInterval), second);
    }

    [Fact]
    public async Task MissedProbes_MakeAReplicaUnresponsive_WhichIsSkipped_ButNotReplacedYet()
    {
        var replica = AddReplica();
        _prober.Answer = _ => new ProbeResult(Answered: false, "connection refused");
        await using var monitor = Monitor();

        await MissProbesAsync(monitor, 1);
        Assert.True(replica.TakesCalls);
        Assert.Empty(_replicas.Changed);

        await MissProbesAsync(monitor, 1);
        Assert.False(replica.TakesCalls);
        Assert.Equal([replica], _replicas.Changed);
        Assert.Contains("missed 2 health probes in a row (connection refused)", replica.Health.Reason);
        Assert.Empty(_replicas.Replaced);
    }

    [Fact]
    public async Task Unresponsive_WithCallsInFlight_IsReplacedAtOnce()
    {
        var replica = AddReplica();
        replica.Enter(); // a call waits on it
        _prober.Answer = _ => new ProbeResult(Answered: false, "no answer within 2 s");
        await using var monitor = Monitor();

        await MissProbesAsync(monitor, 2);

        var (replaced, reason) = Assert.Single(_replicas.Replaced);
        Assert.Same(replica, replaced);
        Assert.Contains("missed 2 health probes", reason);
    }

    [Fact]
    public async Task Unresponsive_WhereNothingCanReplaceIt_IsSkippedUntilItAnswersAgain()
    {
        var replica = AddReplica();
        replica.Enter();
        _replicas.CanReplace = false;
        _prober.Answer = _ => new ProbeResult(Answered: false, "no answer within 2 s");
        await using var monitor = Monitor();

        await MissProbesAsync(monitor, 2);
        _time.Advance(TimeSpan.FromMinutes(5));
        await MissProbesAsync(monitor, 1);
        Assert.False(replica.TakesCalls);

        _prober.Answer = _ => new ProbeResult(Answered: true);
        await monitor.CheckAllAsync(CancellationToken.None).Within();
        Assert.True(replica.TakesCalls);
        Assert.Equal([replica, replica], _replicas.Changed);
        Assert.Empty(_replicas.GivenUp);
    }

    [Fact]
    public async Task Unresponsive_IsReplacedOnceItStaysSoForReplaceAfter()
    {
        var replica = AddReplica();
        _prober.Answer = _ => new ProbeResult(Answered: false, "no answer within 2 s");
        await using var monitor = Monitor();
        await MissProbesAsync(monitor, 2);

        _time.Advance(Options.ReplaceAfter - TimeSpan.FromTicks(1));
        await MissProbesAsync(monitor, 1);
        Assert.Empty(_replicas.Replaced);

        _time.Advance(TimeSpan.FromTicks(1));
        await MissProbesAsync(monitor, 1);
        var (replaced, reason) = Assert.Single(_replicas.Replaced);
        Assert.Same(replica, replaced);
        Assert.EndsWith("for 10 s", reason);
    }

    [Fact]
    public async Task DeadReplica_IsReplacedAtItsFirstMissedProbe_WithTheFirstLineOfWhyItDied()
    {
        var replica = AddReplica();
        _prober.Answer = _ => new ProbeResult(Answered: false, "connection refused");
        _replicas.Dead[replica.Endpoint] = new EnvironmentUnavailableException("r0 exited", exitCode: 137, logTail: "Killed");
        await using var monitor = Monitor();

        await MissProbesAsync(monitor, 1);

        var (replaced, reason) = Assert.Single(_replicas.Replaced);
        Assert.Same(replica, replaced);
        Assert.Equal("r0 exited (exit code 137)", reason);
    }

    [Fact]
    public async Task HostThatCannotServe_IsUnresponsiveAtItsFirstProbe()
    {
        var replica = AddReplica();
        _prober.Answer = _ => new ProbeResult(Answered: false, "503", CannotServe: "ImportError: no module named foo");
        await using var monitor = Monitor();

        await MissProbesAsync(monitor, 1);

        Assert.False(replica.TakesCalls);
        Assert.Equal("its host cannot serve: ImportError: no module named foo", replica.Health.Reason);
    }

    [Fact]
    public async Task AnsweringReplicas_AreNeitherDiagnosedNorReplaced_AndGivenUpOnesAreNotProbed()
    {
        var answering = AddReplica(0);
        var givenUp = AddReplica(1);
        givenUp.Abandon();
        await using var monitor = Monitor();

        await monitor.CheckAllAsync(CancellationToken.None).Within();

        var probed = new List<ReplicaEndpoint>();
        while (_prober.Probes.Reader.TryRead(out var probe))
        {
            probed.Add(probe.Replica);
        }
        Assert.Equal([answering.Endpoint], probed);
        Assert.Equal(0, _replicas.Diagnoses);
        Assert.Empty(_replicas.Replaced);
        Assert.True(answering.TakesCalls);
    }

    [Fact]
    public async Task AFailingRound_DoesNotStopTheMonitor()
    {
        AddReplica();
        var rounds = 0;
        _prober.Answer = _ => Interlocked.Increment(ref rounds) == 1 ? throw new HttpRequestException("engine unreachable") : new ProbeResult(Answered: true);
        await using var monitor = Monitor();
        monitor.Start();

        _time.Advance(Options.ProbeInterval);
        await _prober.Probes.Reader.ReadAsync().AsTask().Within();
        _time.Advance(Options.ProbeInterval);
        await _prober.Probes.Reader.ReadAsync().AsTask().Within(what: "the round after the failed one");

        Assert.Equal(2, Volatile.Read(ref rounds));
    }

    [Fact]
    public async Task Dispose_CancelsTheRoundInProgress_AndWaitsForIt()
    {
        AddReplica();
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _prober.Hold = async ct =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            finally
            {
                cancelled.TrySetResult();
            }
        };
        var monitor = Monitor();
        monitor.Start();
        _time.Advance(Options.ProbeInterval);
        await _prober.Probes.Reader.ReadAsync().AsTask().Within();

        await monitor.DisposeAsync().AsTask().Within(what: "disposing the monitor during a probe");

        Assert.True(cancelled.Task.IsCompleted, "the probe in progress was not cancelled before disposal returned");
        await monitor.DisposeAsync(); // twice is fine
    }

    /// <summary>Answers probes as a test says, and notes each (the replica and the fake time it was asked at).</summary>
    private sealed class FakeProber(TimeProvider time) : IReplicaProber
    {
        public Func<ReplicaEndpoint, ProbeResult> Answer { get; set; } = _ => new ProbeResult(Answered: true);

        /// <summary>Awaited after the probe is noted, before it answers: a probe that hangs.</summary>
        public Func<CancellationToken, Task>? Hold { get; set; }

        public Channel<(ReplicaEndpoint Replica, DateTimeOffset At)> Probes { get; } = Channel.CreateUnbounded<(ReplicaEndpoint, DateTimeOffset)>();

        public async Task<ProbeResult> ProbeAsync(ReplicaEndpoint replica, CancellationToken cancellationToken)
        {
            Probes.Writer.TryWrite((replica, time.GetUtcNow()));
            if (Hold is { } hold)
            {
                await hold(cancellationToken);
            }
            return Answer(replica);
        }
    }

    /// <summary>A replica set that notes what the monitor asks of it, and gives replicas up (only) where it can replace them.</summary>
    private sealed class FakeReplicas : IMonitoredReplicas
    {
        private int _diagnoses;

        public List<Replica> Replicas { get; } = [];

        public ConcurrentQueue<Replica> Changed { get; } = new();

        public ConcurrentQueue<(Replica Replica, string Reason)> Replaced { get; } = new();

        /// <summary>Replicas given up: those asked to be replaced while the set could replace them.</summary>
        public IEnumerable<Replica> GivenUp => Replaced.Where(r => r.Replica.IsAbandoned).Select(r => r.Replica);

        public ConcurrentDictionary<ReplicaEndpoint, EnvironmentUnavailableException> Dead { get; } = new();

        public int Diagnoses => Volatile.Read(ref _diagnoses);

        public IReadOnlyList<Replica> Monitored => [.. Replicas.Where(r => !r.IsAbandoned)];

        public bool CanReplace { get; set; } = true;

        public void HealthChanged(Replica replica) => Changed.Enqueue(replica);

        public Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaEndpoint replica, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _diagnoses);
            return Task.FromResult(Dead.GetValueOrDefault(replica));
        }

        public void Replace(Replica replica, string reason)
        {
            Replaced.Enqueue((replica, reason));
            if (CanReplace)
            {
                replica.Abandon();
            }
        }
    }
}
