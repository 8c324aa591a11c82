using System.Diagnostics;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>
/// What one call reports, from its start to its end: an <c>affinetes.call</c> activity (method, environment, replica,
/// attempts, outcome), the calls in flight, and the count, duration and errors by outcome. A struct: the call path is hot.
/// </summary>
internal readonly struct CallTelemetry
{
    private readonly Activity? _activity;
    private readonly string _method;
    private readonly TimeProvider _time;
    private readonly long _started;

    private CallTelemetry(Activity? activity, string method, TimeProvider time)
    {
        _activity = activity;
        _method = method;
        _time = time;
        _started = time.GetTimestamp();
    }

    /// <summary>A call of <paramref name="method"/> on <paramref name="environment"/> begins.</summary>
    public static CallTelemetry Start(string environment, string method, TimeProvider time)
    {
        Instruments.InFlight.Add(1);
        var activity = Instruments.Source.StartActivity(AffinetesTelemetry.CallActivity, ActivityKind.Client);
        activity?.SetTag("affinetes.method", method);
        activity?.SetTag("affinetes.environment", environment);
        return new CallTelemetry(activity, method, time);
    }

    /// <summary>The call ended with <paramref name="outcome"/> after <paramref name="attempts"/>, the last on <paramref name="replica"/>.</summary>
    public void End(string outcome, int attempts, string? replica)
    {
        Instruments.InFlight.Add(-1);
        var tags = new TagList { { "affinetes.method", _method }, { "affinetes.outcome", outcome } };
        Instruments.Calls.Add(1, tags);
        Instruments.Duration.Record(_time.GetElapsedTime(_started).TotalSeconds, tags);
        if (outcome != AffinetesTelemetry.Outcomes.Success)
        {
            Instruments.Errors.Add(1, new TagList { { "affinetes.method", _method }, { "error.type", outcome } });
        }
        if (_activity is { } activity)
        {
            activity.SetTag("affinetes.outcome", outcome);
            activity.SetTag("affinetes.attempts", attempts);
            activity.SetTag("affinetes.replica", replica);
            if (outcome != AffinetesTelemetry.Outcomes.Success)
            {
                activity.SetStatus(ActivityStatusCode.Error, outcome);
            }
            activity.Dispose();
        }
    }

    /// <summary>The outcome tag of a call that failed with <paramref name="e"/>.</summary>
    public static string Outcome(Exception e) => e switch
    {
        RemoteActorException => AffinetesTelemetry.Outcomes.ActorError,
        MethodNotFoundException or BadArgumentsException => AffinetesTelemetry.Outcomes.BadCall,
        DeadlineExceededException => AffinetesTelemetry.Outcomes.DeadlineExceeded,
        EnvironmentAuthenticationException => AffinetesTelemetry.Outcomes.Unauthorized,
        OperationCanceledException => AffinetesTelemetry.Outcomes.Cancelled,
        _ => AffinetesTelemetry.Outcomes.Unavailable,
    };
}
