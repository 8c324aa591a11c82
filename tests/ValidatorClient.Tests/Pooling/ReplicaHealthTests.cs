using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Pooling;
using Microsoft.Extensions.Time.Testing;

namespace Affinetes.ValidatorClient.Tests.Pooling;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ReplicaHealthTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddDays(1));

    private ReplicaHealth Health(ReplicaHealthOptions? options = null) => new(options ?? new ReplicaHealthOptions(), _time);

    [Fact]
    public void OneTransportError_DoesNotMakeItUnhealthy()
    {
        var health = Health();
        Assert.False(health.RecordCall(failed: true));
        Assert.Equal(HealthState.Healthy, health.State);
    }

    [Fact]
    public void FailureRateAtTheThreshold_WithEnoughCalls_MakesItFailing()
    {
        var health = Health();
        for (var i = 0; i < 5; i++)
        {
            Assert.False(health.RecordCall(failed: false));
        }
        for (var i = 0; i < 4; i++)
        {
            Assert.False(health.RecordCall(failed: true)); // 4 of 9: below half
        }
        Assert.True(health.RecordCall(failed: true)); // 5 of 10
        Assert.Equal(HealthState.Failing, health.State);
        Assert.Contains("5 of its last 10 calls", health.Reason);
    }

    [Fact]
    public void OldFailures_LeaveTheWindow()
    {
        var health = Health();
        for (var i = 0; i < 4; i++)
        {
            health.RecordCall(failed: true);
        }
        _time.Advance(TimeSpan.FromSeconds(11));
        Assert.False(health.RecordCall(failed: true)); // 1 of 1 in the window: too few calls to count
        Assert.Equal(HealthState.Healthy, health.State);
    }

    [Fact]
    public void Failing_IsReactivatedByAProbeAfterItsPeriod_AndOutAgainAtItsNextFailure()
    {
        var health = Health();
        for (var i = 0; i < 5; i++)
        {
            health.RecordCall(failed: true);
        }
        Assert.Equal(HealthState.Failing, health.State);
        Assert.Null(health.RecordProbe(answered: true)); // too early
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(HealthState.Healthy, health.RecordProbe(answered: true));
        Assert.True(health.RecordCall(failed: true)); // probation: one failure is enough
        Assert.Equal(HealthState.Failing, health.State);
    }

    [Fact]
    public void Reactivated_AndSucceeding_LeavesProbation()
    {
        var health = Health();
        for (var i = 0; i < 5; i++)
        {
            health.RecordCall(failed: true);
        }
        _time.Advance(TimeSpan.FromSeconds(5));
        health.RecordProbe(answered: true);
        Assert.False(health.RecordCall(failed: false));
        Assert.False(health.RecordCall(failed: true)); // a single failure after a success is only counted
        Assert.Equal(HealthState.Healthy, health.State);
    }

    [Fact]
    public void MissedProbes_MakeItUnresponsive_OneAnswerBringsItBack()
    {
        var health = Health();
        Assert.Null(health.RecordProbe(answered: false, "timeout"));
        Assert.Equal(HealthState.Healthy, health.State);
        Assert.Equal(HealthState.Unresponsive, health.RecordProbe(answered: false, "timeout"));
        Assert.Contains("missed 2 health probes", health.Reason);
        Assert.False(health.ShouldReplace);
        Assert.Equal(HealthState.Healthy, health.RecordProbe(answered: true));
    }

    [Fact]
    public void Unresponsive_ForItsReplacePeriod_ShouldBeReplaced()
    {
        var health = Health();
        health.RecordProbe(answered: false);
        health.RecordProbe(answered: false);
        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(health.ShouldReplace);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(health.ShouldReplace);
    }

    [Fact]
    public void MarkUnresponsive_IsImmediate_AndOnlyOnce()
    {
        var health = Health();
        Assert.True(health.MarkUnresponsive("its host answered shutting_down"));
        Assert.False(health.MarkUnresponsive("again"));
        Assert.Equal("its host answered shutting_down", health.Reason);
    }
}
