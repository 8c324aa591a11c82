namespace Affinetes.ActorHost.Runtimes.Python.Interop;

/// <summary>
/// Holds the GIL for a scope (<c>PyGILState_Ensure</c>/<c>Release</c>): for threads that enter Python now and then.
/// Never await inside one: the release must happen on the thread that took it.
/// </summary>
internal readonly ref struct Gil
{
    private readonly int _state;

    private Gil(int state) => _state = state;

    public static unsafe Gil Acquire() => new(CPython.PyGILState_Ensure());

    public unsafe void Dispose() => CPython.PyGILState_Release(_state);
}
