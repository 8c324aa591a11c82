namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>
/// The tags the host and <c>affinetes_bridge.py</c> exchange, under the same names on both sides
/// (<see cref="ByPythonName"/>; a test reads the bridge's source and checks every one).
/// </summary>
internal static class BridgeTags
{
    /// <summary>First character of a payload: a result's JSON follows.</summary>
    public const byte Ok = 0x00;

    /// <summary>First character of a payload: an error's JSON follows (<c>{"code","message","type","parameter","traceback"}</c>).</summary>
    public const byte Fail = 0x01;

    /// <summary><c>call_sync</c>'s answer when the plain method returned an awaitable: the loop finishes it and reports through <c>complete</c>.</summary>
    public const byte Continues = 0x02;

    /// <summary>A <c>/call</c> body: <c>{"method": ..., "args": [...], "kwargs": {...}}</c> (<see cref="BodyShape.Call"/>).</summary>
    public const int ShapeCall = (int)BodyShape.Call;

    /// <summary>A flat kwargs body, or <c>{"args": [...], "kwargs": {...}}</c> (<see cref="BodyShape.Flat"/>).</summary>
    public const int ShapeFlat = (int)BodyShape.Flat;

    /// <summary>An entry of <c>take()</c> that starts an async call: <c>(kind, call_id, name, body, shape)</c>.</summary>
    public const int TakeSubmit = 0;

    /// <summary>An entry of <c>take()</c> that cancels an async call: <c>(kind, call_id, None, None, None)</c>.</summary>
    public const int TakeCancel = 1;

    /// <summary>Every tag by the name the bridge gives it.</summary>
    public static readonly IReadOnlyDictionary<string, int> ByPythonName = new Dictionary<string, int>
    {
        ["OK"] = Ok,
        ["FAIL"] = Fail,
        ["CONTINUES"] = Continues,
        ["SHAPE_CALL"] = ShapeCall,
        ["SHAPE_FLAT"] = ShapeFlat,
        ["TAKE_SUBMIT"] = TakeSubmit,
        ["TAKE_CANCEL"] = TakeCancel,
    };
}
