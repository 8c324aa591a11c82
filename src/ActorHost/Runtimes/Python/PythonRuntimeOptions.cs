namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>Settings of the Python runtime.</summary>
internal sealed record PythonRuntimeOptions
{
    /// <summary>The miner's module, default <c>/app/env.py</c>.</summary>
    public required string EnvFile { get; init; }

    /// <summary>Interpreter to take libpython and sys.path from; null: <c>$VIRTUAL_ENV/bin/python</c> or <c>python3</c>.</summary>
    public string? PythonExecutable { get; init; }

    /// <summary>Threads that enter Python to run plain methods (async ones run on the asyncio loop's thread).</summary>
    public int Workers { get; init; } = 4;

    /// <summary>Tracebacks in error answers.</summary>
    public bool Debug { get; init; }

    /// <summary>
    /// Reject a value whose JSON type contradicts a simple annotation (400). Off by default: the original passes values
    /// through as they are, and real callers rely on it.
    /// </summary>
    public bool StrictTypes { get; init; }

    /// <summary>
    /// How long a plain method may run on after its deadline interrupted it (a blocking C call does not see the
    /// interrupt) before its worker is written off and replaced.
    /// </summary>
    public TimeSpan WriteOffGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the asyncio loop may go without running (a blocking call inside an async def) before the runtime reports it cannot serve.</summary>
    public TimeSpan LoopStallLimit { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The most bytes a result may have; a larger one is refused in Python, before it is copied out.</summary>
    public long MaxResultBytes { get; init; } = Protocol.ResultLimits.DefaultMaxBytes;

    /// <summary>The Python modules the host ships (<c>affinetes.core.*</c>, <c>request_logger</c>), appended to <c>sys.path</c>.</summary>
    public string ModulesDirectory { get; init; } = Path.Combine(AppContext.BaseDirectory, "python");

    /// <summary>Environment variables removed from Python's environment before env.py is imported (the plain auth token).</summary>
    public IReadOnlyList<string> HiddenVariables { get; init; } = [];
}
