namespace Affinetes.ActorHost.Hosting;

/// <summary>Where the actor is in its life: the answer of <c>/ready</c> and the gate in front of every call.</summary>
public sealed class Readiness
{
    private volatile State _state = State.Starting;
    private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public enum State
    {
        Starting,
        Ready,
        Failed,
        Stopping,

        /// <summary>Started, but cannot serve now (see <see cref="Runtimes.IActorRuntime.UnservableReason"/>); may recover.</summary>
        Unservable,
    }

    public State Current => _state;

    /// <summary>Why the actor cannot be served, once <see cref="State.Failed"/>.</summary>
    public string? Reason { get; private set; }

    public bool IsReady => _state == State.Ready;

    /// <summary>Completes once waiting for the start is pointless: the actor is ready or failed, or the host is stopping.</summary>
    public Task Settled => _settled.Task;

    public void MarkReady()
    {
        _state = State.Ready;
        _settled.TrySetResult();
    }

    public void MarkFailed(string reason)
    {
        Reason = reason;
        _state = State.Failed;
        _settled.TrySetResult();
    }

    /// <summary>The runtime cannot serve: calls, /health and /ready answer 503 with the reason.</summary>
    public void MarkUnservable(string reason)
    {
        if (_state is State.Ready or State.Unservable)
        {
            Reason = reason;
            _state = State.Unservable;
        }
    }

    /// <summary>The runtime serves again.</summary>
    public void MarkServable()
    {
        if (_state == State.Unservable)
        {
            Reason = null;
            _state = State.Ready;
        }
    }

    public void MarkStopping()
    {
        if (_state is State.Ready or State.Unservable)
        {
            _state = State.Stopping;
        }
        _settled.TrySetResult(); // a /ready?wait pending while the host stops answers now, not at the end of the grace period
    }
}
