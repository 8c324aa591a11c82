using System.Diagnostics;
using System.Text.Json;
using Affinetes.ActorHost.Runtimes.Python.Interop;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>
/// Serves a Python <c>env.py</c> through embedded CPython (its C API, <see cref="CPython"/>).
/// <para>
/// Plain methods queue for the <see cref="GilWorkerPool"/>, whose threads run them under the GIL. Async methods go
/// straight to the one long-lived asyncio loop through its <see cref="LoopInbox"/> and report through the
/// <see cref="CompletionSink"/>; the loop runs them concurrently.
/// </para>
/// <para>
/// Deadlines: a queued call whose deadline passes is dropped with its body; a running plain method is interrupted
/// (an exception raised in its thread at the next bytecode) and, if it does not stop, its worker is written off and
/// replaced; an async call's task is cancelled (<see cref="PythonWatchdog"/>). <see cref="UnservableReason"/> says
/// when nothing can be served any more.
/// </para>
/// </summary>
internal sealed partial class PythonRuntime(PythonRuntimeOptions options, ILogger logger) : IActorRuntime
{
    private readonly CompletionSink _sink = new();
    private LoopInbox? _inbox;
    private PythonBridge? _bridge;
    private GilWorkerPool? _pool;
    private PythonWatchdog? _watchdog;
    private volatile bool _stopping;
    private long _nextId;

    public string Name => "python";

    /// <summary>Where start-up time went, for the ready log line.</summary>
    public string StartupTimings { get; private set; } = "";

    public IReadOnlyList<MethodDescriptor> Methods { get; private set; } = [];

    /// <summary>The interpreter in use, once started.</summary>
    public PythonInstallation? Installation { get; private set; }

    /// <summary>Why nothing can be served now (every worker stuck past its deadline, the asyncio loop not running); null while it can.</summary>
    public string? UnservableReason => _watchdog?.UnservableReason;

    /// <summary>After <see cref="DisposeAsync"/>: some worker is still in a call (stuck in C code).</summary>
    public bool HasStuckWorkers => _pool?.HasStuckWorkers == true;

    /// <summary>The threads that run plain methods (for the tests that look at them).</summary>
    internal GilWorkerPool? Pool => _pool;

    /// <summary>Public attributes of the Actor that could not be served (name and reason), logged at start-up.</summary>
    public IReadOnlyList<string> SkippedAttributes { get; private set; } = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // A thread of its own: the interpreter starts while Kestrel binds, and start-up stays off the thread pool.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Start(loadOnly: false);
                started.TrySetResult();
            }
            catch (Exception e)
            {
                started.TrySetException(e);
            }
        })
        { IsBackground = true, Name = "affinetes-python-start" };
        thread.Start();
        return started.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Imports env.py and checks it has an Actor class, without constructing it (the build-time check).</summary>
    public void CheckLoadable() => Start(loadOnly: true);

    private void Start(bool loadOnly)
    {
        var clock = Stopwatch.StartNew();
        var installation = Installation = PythonInstallation.Locate(options.PythonExecutable);
        var located = clock.ElapsedMilliseconds;
        PythonInterpreter.EnsureStarted(installation);
        var initialized = clock.ElapsedMilliseconds;
        _inbox = new LoopInbox(_sink);
        try
        {
            PythonBridge.EnsureModule();
        }
        catch (PythonError e)
        {
            throw new ActorStartupException($"the host's Python bridge does not load: {e.TypeName}: {e.Message}", e);
        }
        using (Gil.Acquire())
        {
            try
            {
                _bridge = PythonBridge.Create(options, installation, LoopCallbacks.Create(_sink, _inbox));
                var imported = clock.ElapsedMilliseconds;
                if (loadOnly)
                {
                    _bridge.LoadModule();
                    return;
                }
                var (methods, skipped) = _bridge.Start();
                Methods = methods;
                SkippedAttributes = skipped;
                StartupTimings = $"python {installation.Version}: locate {located} ms, initialize {initialized - located} ms, " +
                    $"bridge {imported - initialized} ms, import and construct {clock.ElapsedMilliseconds - imported} ms";
            }
            catch (PythonError e)
            {
                throw new ActorStartupException(e.TypeName == "StartupError" ? e.Message : $"{e.TypeName}: {e.Message}", e);
            }
        }
        _inbox.Connect(_bridge);
        foreach (var skipped in SkippedAttributes)
        {
            LogSkippedAttribute(logger, skipped);
        }
        _pool = new GilWorkerPool(_bridge, _sink, logger);
        for (var i = 0; i < Math.Max(1, options.Workers); i++)
        {
            _pool.StartWorker();
        }
        _watchdog = new PythonWatchdog(options, _pool, _bridge, _sink, _inbox, logger);
        _watchdog.Start();
    }

    public async Task<InvokeResult> InvokeAsync(MethodDescriptor method, ReadOnlyMemory<byte> body, BodyShape shape, CancellationToken cancellationToken)
    {
        if (_stopping)
        {
            return InvokeResult.Failure(new ErrorDetail { Code = ErrorCodes.ShuttingDown, Message = "the host is shutting down", Method = method.Name });
        }
        var item = new WorkItem(Interlocked.Increment(ref _nextId), method.Name, method.IsAsync, body, shape,
            method.IsAsync ? null : _pool!.PaceOf(method.Name));
        if (method.IsAsync)
        {
            _sink.Register(item.Id, item.Completion);
            _inbox!.Submit(item);
        }
        else if (item.Pace!.IsQuick)
        {
            // The pool may run it here, on this thread: a call that turns out slow is abandoned from the token.
            using (cancellationToken.UnsafeRegister(static state => { var (runtime, item) = ((PythonRuntime, WorkItem))state!; runtime.Abandon(item); }, (this, item)))
            {
                _pool!.Enqueue(item, quick: true);
            }
        }
        else
        {
            _pool!.Enqueue(item, quick: false);
        }

        byte[] payload;
        try
        {
            payload = await item.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Abandon(item);
            throw;
        }
        return Decode(payload, method.Name);
    }

    /// <summary>
    /// The caller gave up (deadline, gone): a call still queued is dropped with its body; an async call's task is
    /// cancelled; a plain method that runs is interrupted (and its worker watched).
    /// </summary>
    private void Abandon(WorkItem item)
    {
        if (Interlocked.CompareExchange(ref item.AbandonedAt, Environment.TickCount64, 0) != 0)
        {
            return; // once: from the token while the call ran on the caller's thread, then from the caller
        }
        if (Interlocked.CompareExchange(ref item.State, WorkItem.Dropped, WorkItem.Queued) == WorkItem.Queued)
        {
            item.Body = default;
            _sink.Forget(item.Id);
            return;
        }
        if (item.IsAsync)
        {
            _inbox!.Cancel(item);
            _watchdog!.TrackAbandoned(item);
        }
        else if (Volatile.Read(ref item.State) == WorkItem.Running)
        {
            _watchdog!.RequestInterrupt(item);
        }
    }

    private static InvokeResult Decode(byte[] payload, string method)
    {
        if (payload.Length > 0 && payload[0] == BridgeTags.Ok)
        {
            return InvokeResult.Success(payload.AsMemory(1));
        }
        if (payload.Length < 2 || payload[0] != BridgeTags.Fail)
        {
            // Not a tagged payload (an async result that was not a str reaches complete() as nothing): a bridge bug.
            return InvokeResult.Failure(new ErrorDetail { Code = ErrorCodes.ActorError, Message = "internal error of the Python bridge: an answer without its tag", Method = method });
        }
        using var doc = JsonDocument.Parse(payload.AsMemory(1));
        var e = doc.RootElement;
        string? Text(string name) => e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        return InvokeResult.Failure(new ErrorDetail
        {
            Code = Text("code") ?? ErrorCodes.ActorError,
            Message = Text("message") ?? "",
            Type = Text("type"),
            Parameter = Text("parameter"),
            Traceback = Text("traceback"),
            Method = method,
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping)
        {
            return;
        }
        _stopping = true;
        _watchdog?.Dispose();
        _inbox?.Disconnect();
        if (_pool is null || _bridge is null)
        {
            return;
        }
        // The server has drained its calls already: a worker still in one after a second is stuck (C code) and must
        // not keep a stopped container alive.
        await _pool.StopAsync().ConfigureAwait(false);
        if (!_pool.HasStuckWorkers)
        {
            var bridge = _bridge;
            var stop = new Thread(() =>
            {
                using (Gil.Acquire())
                {
                    try
                    {
                        bridge.Stop(2.0);
                    }
                    catch (PythonError e)
                    {
                        LogStopFailed(logger, e);
                    }
                }
            })
            { IsBackground = true, Name = "affinetes-python-stop" };
            stop.Start();
            await Task.Run(() => stop.Join(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        }
    }
}
