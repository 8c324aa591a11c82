namespace Affinetes.ActorHost.Hosting;

/// <summary>Where the actor is in its life: the answer of <c>/ready</c> and the gate in front of every call.</summary>
public sealed class Readiness
{
    private volatile State _state = State.Starting;

    public enum State
    {
        Starting,
        Ready,
        Failed,
        Stopping,
    }

    public State Current => _state;

    /// <summary>Why the actor cannot be served, once <see cref="State.Failed"/>.</summary>
    public string? Reason { get; private set; }

    public bool IsReady => _state == State.Ready;

    public void MarkReady() => _state = State.Ready;

    public void MarkFailed(string reason)
    {
        Reason = reason;
        _state = State.Failed;
    }

    public void MarkStopping()
    {
        if (_state == State.Ready)
        {
            _state = State.Stopping;
        }
    }
}
