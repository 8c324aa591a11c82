namespace Affinetes.ActorHost.Hosting;

/// <summary>Where the actor is in its life: the answer of <c>/ready</c> and the gate in front of every call.</summary>
internal sealed class Readiness
{
    private volatile State _state = State.Starting;
    private TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public enum State
    {
        Starting,
        Ready,
        /// <summary>It was ready and will be again (a sidecar's server restarting); <see cref="Reason"/> says why not now.</summary>
        Recovering,
        Failed,
        Stopping,

        /// <summary>Started, but cannot serve now (see <see cref="Runtimes.IActorRuntime.UnservableReason"/>); may recover.</summary>
        Unservable,
    }

    public State Current => _state;

    /// <summary>Why the actor cannot be served, once <see cref="State.Failed"/>.</summary>
    public string? Reason { get; private set; }

    public bool IsReady => _state == State.Ready;

    /// <summary>Completes once waiting is pointless: the actor is ready (again) or failed, or the host is stopping.</summary>
    public Task Settled => _settled.Task;

    /// <summary>Whether a caller may wait for readiness: the actor is starting or recovering.</summary>
    public bool IsComing => _state is State.Starting or State.Recovering;

    public void MarkReady()
    {
        if (_state == State.Stopping)
        {
            return;
        }
        Reason = null;
        _state = State.Ready;
        _settled.TrySetResult();
    }

    /// <summary>The actor was ready and cannot serve for now (it is coming back); waits on <see cref="Settled"/> resume.</summary>
    public void MarkRecovering(string reason)
    {
        if (_state is not (State.Ready or State.Recovering))
        {
            return;
        }
        Reason = reason;
        if (_settled.Task.IsCompleted)
        {
            _settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        _state = State.Recovering;
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
        if (_state is State.Ready or State.Unservable or State.Recovering)
        {
            _state = State.Stopping;
        }
        _settled.TrySetResult(); // a /ready?wait pending while the host stops answers now, not at the end of the grace period
    }
}
