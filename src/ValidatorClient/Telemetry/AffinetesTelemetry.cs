using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Affinetes.ValidatorClient.Telemetry;

/// <summary>
/// The names under which the client reports, for OpenTelemetry (<c>AddSource</c>/<c>AddMeter</c>) or
/// <c>dotnet-counters monitor --counters Affinetes.ValidatorClient</c>.
/// </summary>
public static class AffinetesTelemetry
{
    /// <summary>The <see cref="ActivitySource"/> and <see cref="Meter"/> name.</summary>
    public const string Name = "Affinetes.ValidatorClient";

    /// <summary>One activity per call (<c>affinetes.call</c>), tagged with method, replica, attempts and outcome.</summary>
    public const string CallActivity = "affinetes.call";

    /// <summary>Counter of finished calls, tagged <c>affinetes.method</c> and <c>affinetes.outcome</c>.</summary>
    public const string Calls = "affinetes.client.calls";

    /// <summary>Counter of failed calls, tagged <c>affinetes.method</c> and <c>error.type</c> (the outcome).</summary>
    public const string Errors = "affinetes.client.call.errors";

    /// <summary>Histogram of call durations in seconds, tagged <c>affinetes.method</c> and <c>affinetes.outcome</c>.</summary>
    public const string Duration = "affinetes.client.call.duration";

    /// <summary>Up-down counter of calls in flight.</summary>
    public const string InFlight = "affinetes.client.calls.in_flight";

    /// <summary>Gauge of ready replicas, tagged <c>affinetes.environment</c>.</summary>
    public const string ReplicasReady = "affinetes.client.replicas.ready";

    /// <summary>Counter of replicas replaced because they died or stopped answering, tagged <c>affinetes.environment</c>.</summary>
    public const string ReplicasReplaced = "affinetes.client.replicas.replaced";

    /// <summary>
    /// Gauge of open episodes (reset and not yet stopped or lost), tagged <c>affinetes.environment</c>: each lives in
    /// the memory of the replica that opened it.
    /// </summary>
    public const string EpisodesOpen = "affinetes.client.episodes.open";

    /// <summary>Call outcomes, as the <c>affinetes.outcome</c> tag has them.</summary>
    public static class Outcomes
    {
        public const string Success = "success";
        public const string ActorError = "actor_error";
        public const string BadCall = "bad_call";
        public const string DeadlineExceeded = "deadline_exceeded";
        public const string Unavailable = "unavailable";
        public const string Unauthorized = "unauthorized";
        public const string Cancelled = "cancelled";
    }
}

/// <summary>The instruments behind <see cref="AffinetesTelemetry"/>; one set per process.</summary>
internal static class Instruments
{
    public static readonly ActivitySource Source = new(AffinetesTelemetry.Name, typeof(Instruments).Assembly.GetName().Version?.ToString());

    public static readonly Meter Meter = new(AffinetesTelemetry.Name, typeof(Instruments).Assembly.GetName().Version?.ToString());

    public static readonly Counter<long> Calls = Meter.CreateCounter<long>(AffinetesTelemetry.Calls, "{call}", "Calls finished");

    public static readonly Counter<long> Errors = Meter.CreateCounter<long>(AffinetesTelemetry.Errors, "{call}", "Calls that failed, by kind");

    public static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(AffinetesTelemetry.Duration, "s", "Duration of calls");

    public static readonly UpDownCounter<long> InFlight = Meter.CreateUpDownCounter<long>(AffinetesTelemetry.InFlight, "{call}", "Calls in flight");

    public static readonly Counter<long> ReplicasReplaced = Meter.CreateCounter<long>(AffinetesTelemetry.ReplicasReplaced, "{replica}", "Replicas replaced");

    private static readonly List<WeakReference<Pooling.ReplicaPool>> Pools = [];
    private static readonly Lock PoolsLock = new();

    static Instruments()
    {
        Meter.CreateObservableGauge(AffinetesTelemetry.ReplicasReady, ObserveReady, "{replica}", "Ready replicas per environment");
        Meter.CreateObservableGauge(AffinetesTelemetry.EpisodesOpen, ObserveEpisodes, "{episode}", "Open episodes per environment");
    }

    /// <summary>Makes <paramref name="pool"/>'s ready replicas observable until it is collected.</summary>
    public static void Track(Pooling.ReplicaPool pool)
    {
        lock (PoolsLock)
        {
            Pools.RemoveAll(p => !p.TryGetTarget(out _));
            Pools.Add(new WeakReference<Pooling.ReplicaPool>(pool));
        }
    }

    private static IEnumerable<Measurement<int>> ObserveReady() =>
        LivePools().Select(p => new Measurement<int>(p.ReadyCount, new KeyValuePair<string, object?>("affinetes.environment", p.EnvironmentName)));

    private static IEnumerable<Measurement<int>> ObserveEpisodes() =>
        LivePools().Select(p => new Measurement<int>(p.OpenEpisodeCount, new KeyValuePair<string, object?>("affinetes.environment", p.EnvironmentName)));

    private static List<Pooling.ReplicaPool> LivePools()
    {
        lock (PoolsLock)
        {
            return [.. Pools.Select(p => p.TryGetTarget(out var pool) ? pool : null).OfType<Pooling.ReplicaPool>().Where(p => !p.IsDisposed)];
        }
    }
}
