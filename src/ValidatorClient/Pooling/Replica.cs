using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>How one attempt of a call on a replica ended.</summary>
internal enum AttemptOutcome
{
    /// <summary>The actor answered with a result.</summary>
    Result,

    /// <summary>The replica answered with an error (the actor raised, bad arguments ...): it is working.</summary>
    Error,

    /// <summary>The host refused the call without running it (503: starting, draining, at its limit).</summary>
    Refused,

    /// <summary>No answer: transport failure, the deadline passed, or the replica was given up.</summary>
    NoAnswer,
}

/// <summary>One replica in a pool: its address, health and counters; read without locks on the call path.</summary>
internal sealed class Replica(int index, ReplicaEndpoint endpoint, ReplicaHealth health)
{
    private readonly CancellationTokenSource _abandon = new();
    private long _requests;
    private long _failures;
    private int _inFlight;
    private int _openEpisodes;
    private long _latencyTicks;
    private long _maxLatencyTicks;

    /// <summary>Its slot in the environment: replica <c>i</c> of <c>n</c>.</summary>
    public int Index { get; } = index;

    public ReplicaEndpoint Endpoint { get; } = endpoint;

    public Uri CallUri { get; } = new(endpoint.BaseUrl, WireRoutes.Call);

    public ReplicaHealth Health { get; } = health;

    /// <summary>Cancelled when the replica is given up (dead, hung, removed): its calls in flight stop waiting for it.</summary>
    public CancellationToken Abandoned => _abandon.Token;

    public bool IsAbandoned => _abandon.IsCancellationRequested;

    public bool TakesCalls => Health.State == HealthState.Healthy && !IsAbandoned;

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Episodes opened on it and not ended: their state lives in this replica's memory alone.</summary>
    public int OpenEpisodes => Volatile.Read(ref _openEpisodes);

    /// <summary>Counts an episode opened on it (+1) or ended (-1).</summary>
    public void AddOpenEpisodes(int delta) => Interlocked.Add(ref _openEpisodes, delta);

    public void Enter()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _requests);
    }

    /// <summary>A call on it ended; returns true when this made the replica unhealthy (only calls it never answered count against it).</summary>
    public bool Leave(TimeSpan elapsed, AttemptOutcome outcome)
    {
        var elapsedTicks = elapsed.Ticks;
        Interlocked.Decrement(ref _inFlight);
        Interlocked.Add(ref _latencyTicks, elapsedTicks);
        if (outcome != AttemptOutcome.Result)
        {
            Interlocked.Increment(ref _failures);
        }
        var max = Volatile.Read(ref _maxLatencyTicks);
        while (elapsedTicks > max && Interlocked.CompareExchange(ref _maxLatencyTicks, elapsedTicks, max) != max)
        {
            max = Volatile.Read(ref _maxLatencyTicks);
        }
        return outcome != AttemptOutcome.Refused && Health.RecordCall(failed: outcome == AttemptOutcome.NoAnswer);
    }

    /// <summary>Gives the replica up: its calls in flight are released to fail over. Returns how many there were.</summary>
    public int Abandon()
    {
        var inFlight = InFlight;
        _abandon.Cancel();
        return inFlight;
    }

    public ReplicaStats Stats()
    {
        var requests = Interlocked.Read(ref _requests);
        var done = requests - InFlight;
        return new ReplicaStats(Endpoint.Id, Endpoint.Description, TakesCalls, requests, Interlocked.Read(ref _failures), InFlight,
            done <= 0 ? 0 : (double)Interlocked.Read(ref _latencyTicks) / TimeSpan.TicksPerMillisecond / done,
            (double)Interlocked.Read(ref _maxLatencyTicks) / TimeSpan.TicksPerMillisecond,
            IsAbandoned ? "removed" : Health.State.ToString().ToLowerInvariant());
    }
}
