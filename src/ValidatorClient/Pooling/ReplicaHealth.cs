using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>Whether a replica takes calls.</summary>
internal enum HealthState
{
    /// <summary>Answers probes and calls: takes calls.</summary>
    Healthy,

    /// <summary>Too many of its recent calls failed in transport or past their deadline: skipped until its reactivation.</summary>
    Failing,

    /// <summary>Missed its last probes: skipped, its calls in flight abandoned; replaced if it stays so.</summary>
    Unresponsive,
}

/// <summary>
/// The health policy of one replica: judged on its recent failure rate and on its probes, never on one error
/// (YARP's transport-failure-rate policy is the model). Calls record transport failures and missed deadlines as
/// failures and every answer as a success; the monitor records probes. Thread-safe; cheap on the call path.
/// </summary>
internal sealed class ReplicaHealth(ReplicaHealthOptions options, TimeProvider time)
{
    private const int Buckets = 10;

    private readonly Lock _gate = new();
    private readonly long[] _calls = new long[Buckets];
    private readonly long[] _failures = new long[Buckets];
    private readonly long[] _bucketStart = new long[Buckets];
    private readonly long _bucketTicks = Math.Max(1, options.FailureRateWindow.Ticks / Buckets);
    private int _missedProbes;
    private bool _probation;
    private long _since = time.GetTimestamp();

    public HealthState State { get; private set; } = HealthState.Healthy;

    /// <summary>Why the replica is not healthy, in words for logs and errors.</summary>
    public string? Reason { get; private set; }

    /// <summary>How long it has been in its current state.</summary>
    public TimeSpan InState => time.GetElapsedTime(_since);

    /// <summary>Records a call's outcome on this replica; true when this made it leave <see cref="HealthState.Healthy"/>.</summary>
    public bool RecordCall(bool failed)
    {
        var now = time.GetUtcNow().UtcTicks;
        lock (_gate)
        {
            var index = (int)(now / _bucketTicks % Buckets);
            var start = now - (now % _bucketTicks);
            if (_bucketStart[index] != start)
            {
                _bucketStart[index] = start;
                _calls[index] = 0;
                _failures[index] = 0;
            }
            _calls[index]++;
            if (failed)
            {
                _failures[index]++;
            }
            if (!failed || State != HealthState.Healthy)
            {
                _probation &= failed;
                return false;
            }
            if (_probation)
            {
                // Back from its reactivation period, it failed again at once: out again, without waiting for a full window.
                Enter(HealthState.Failing, "its first call after reactivation failed again");
                return true;
            }
            var (calls, failures) = Totals(now);
            if (calls < options.MinimumCalls || failures < calls * options.FailureRateThreshold)
            {
                return false;
            }
            Enter(HealthState.Failing, $"{failures} of its last {calls} calls failed in transport or past their deadline");
            return true;
        }
    }

    /// <summary>Records a probe; returns the state it moved to, or null when it stayed where it was.</summary>
    public HealthState? RecordProbe(bool answered, string? failure = null)
    {
        lock (_gate)
        {
            if (!answered)
            {
                _missedProbes++;
                if (_missedProbes >= options.UnresponsiveAfterProbes && State != HealthState.Unresponsive)
                {
                    Enter(HealthState.Unresponsive, $"missed {_missedProbes} health probes in a row ({failure ?? "no answer"})");
                    return State;
                }
                return null;
            }
            _missedProbes = 0;
            switch (State)
            {
                case HealthState.Unresponsive:
                case HealthState.Failing when InState >= options.ReactivationPeriod:
                    _probation = State == HealthState.Failing;
                    Array.Clear(_calls);
                    Array.Clear(_failures);
                    Enter(HealthState.Healthy, null);
                    return State;
                default:
                    return null;
            }
        }
    }

    /// <summary>Marks the replica unresponsive at once (its host said it is stopping or cannot serve).</summary>
    public bool MarkUnresponsive(string reason)
    {
        lock (_gate)
        {
            if (State == HealthState.Unresponsive)
            {
                return false;
            }
            Enter(HealthState.Unresponsive, reason);
            return true;
        }
    }

    /// <summary>Whether it has been unresponsive long enough to be replaced.</summary>
    public bool ShouldReplace => State == HealthState.Unresponsive && InState >= options.ReplaceAfter;

    private (long Calls, long Failures) Totals(long now)
    {
        long calls = 0, failures = 0;
        var oldest = now - options.FailureRateWindow.Ticks;
        for (var i = 0; i < Buckets; i++)
        {
            if (_bucketStart[i] > oldest)
            {
                calls += _calls[i];
                failures += _failures[i];
            }
        }
        return (calls, failures);
    }

    private void Enter(HealthState state, string? reason)
    {
        State = state;
        Reason = reason;
        _since = time.GetTimestamp();
    }
}
