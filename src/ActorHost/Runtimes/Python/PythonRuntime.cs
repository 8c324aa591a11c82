using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using Affinetes.Protocol;
using Python.Runtime;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>Settings of the Python runtime.</summary>
internal sealed record PythonRuntimeOptions
{
    /// <summary>The miner's module, default <c>/app/env.py</c>.</summary>
    public required string EnvFile { get; init; }

    /// <summary>Interpreter to take libpython and sys.path from; null: <c>$VIRTUAL_ENV/bin/python</c> or <c>python3</c>.</summary>
    public string? PythonExecutable { get; init; }

    /// <summary>Threads that enter Python: they run plain methods and hand async calls to the event loop.</summary>
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
}

/// <summary>
/// Serves a Python <c>env.py</c> through embedded CPython (Python.NET).
/// <para>
/// Calls queue on one lock-free queue. A few dedicated worker threads, each with its own long-lived Python thread
/// state, take the GIL once and drain as many queued calls as are there (one GIL hand-off serves a burst instead of
/// one per request). Plain methods run on the worker; async methods are handed to one long-lived asyncio loop that
/// runs them concurrently and reports each result through <see cref="CompletionSink"/>. When a plain method blocks
/// in I/O it releases the GIL and another worker carries on with the queue.
/// </para>
/// <para>
/// Deadlines: a queued call whose deadline passes is dropped with its body; a running plain method is interrupted
/// (an exception raised in its thread at the next bytecode); one that does not stop within
/// <see cref="PythonRuntimeOptions.WriteOffGrace"/> (a blocking C call) costs its worker, which is written off and
/// replaced, up to as many stuck workers again as there are workers. <see cref="UnservableReason"/> says when nothing
/// can be served any more (every worker stuck, or the asyncio loop not running).
/// </para>
/// </summary>
internal sealed partial class PythonRuntime(PythonRuntimeOptions options, ILogger logger) : IActorRuntime
{
    private static readonly Lock InitializationLock = new();
    private static bool _engineStarted;

    private readonly ConcurrentQueue<WorkItem> _queue = new();
    private readonly SemaphoreSlim _available = new(0);
    private readonly CompletionSink _sink = new();
    private readonly Lock _workersLock = new();
    private readonly List<Worker> _workers = [];
    private readonly Dictionary<string, PyObject> _methodNames = new(StringComparer.Ordinal);
    private readonly System.Threading.Channels.Channel<WorkItem> _interrupts = System.Threading.Channels.Channel.CreateUnbounded<WorkItem>();
    private volatile bool _stopping;
    private long _nextId;
    private int _workerCount;
    private PyObject? _bridge;
    private PyObject? _callSync;
    private PyObject? _submit;
    private PyObject? _cancel;
    private PyObject? _interrupt;
    private PyObject? _clearInterrupt;
    private PyObject? _beat;
    private PyObject? _plainShape;
    private PyObject? _flatShape;
    private PythonInstallation? _installation;
    private Ticker? _watchdog;
    private Thread? _interrupter;
    private volatile string? _unservable;
    private readonly ConcurrentDictionary<long, WorkItem> _abandonedAsync = new();
    private PyObject? _interruptLoop;

    public string Name => "python";

    /// <summary>Where start-up time went, for the ready log line.</summary>
    public string StartupTimings { get; private set; } = "";

    public IReadOnlyList<MethodDescriptor> Methods { get; private set; } = [];

    /// <summary>The interpreter in use, once started.</summary>
    public PythonInstallation? Installation => _installation;

    /// <summary>Why nothing can be served now (every worker stuck past its deadline, the asyncio loop not running); null while it can.</summary>
    public string? UnservableReason => _unservable;

    /// <summary>After <see cref="DisposeAsync"/>: some worker is still in a call (stuck in C code); finalising the interpreter would wait on it.</summary>
    public bool HasStuckWorkers
    {
        get
        {
            lock (_workersLock)
            {
                return _workers.Any(w => w.Thread?.IsAlive == true);
            }
        }
    }

    /// <summary>Public attributes of the Actor that could not be served (name and reason), logged at start-up.</summary>
    public IReadOnlyList<string> SkippedAttributes { get; private set; } = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Initialize and BeginAllowThreads must happen on one thread; a dedicated one keeps start-up off the pool.
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
        var clock = System.Diagnostics.Stopwatch.StartNew();
        _installation = PythonInstallation.Locate(options.PythonExecutable);
        var located = clock.ElapsedMilliseconds;
        lock (InitializationLock)
        {
            if (!_engineStarted)
            {
                Runtime.PythonDLL = _installation.LibraryPath;
                PythonEngine.PythonHome = _installation.Home;
                try
                {
                    PythonEngine.Initialize();
                }
                catch (Exception e)
                {
                    throw new ActorStartupException($"CPython {_installation.Version} from {_installation.LibraryPath} failed to start: {e.Message}", e);
                }
                _engineStarted = true;
                PythonEngine.BeginAllowThreads();
            }
        }

        var initialized = clock.ElapsedMilliseconds;
        using (Py.GIL())
        {
            SyncSysPath(_installation.SysPath);
            HideSecrets();
            using var module = PyModule.FromString("affinetes_bridge", ReadBridgeSource());
            using var makeBridge = module.GetAttr("make_bridge");
            using var envFile = new PyString(options.EnvFile);
            using var debug = options.Debug.ToPython();
            using var sink = _sink.ToPython();
            using var strict = options.StrictTypes.ToPython();
            using var modules = new PyString(options.ModulesDirectory);
            using var maxResult = new PyInt(options.MaxResultBytes);
            _bridge = makeBridge.Invoke(envFile, debug, sink, strict, modules, maxResult);
            try
            {
                if (loadOnly)
                {
                    _bridge.InvokeMethod("load_module").Dispose();
                    return;
                }
                using var table = _bridge.InvokeMethod("start");
                Methods = ParseMethodTable(table.As<string>());
                using var skipped = _bridge.GetAttr("skipped");
                SkippedAttributes = skipped.As<string[]>();
                StartupTimings = $"python {_installation.Version}: locate {located} ms, initialize {initialized - located} ms, " +
                    $"import and construct {clock.ElapsedMilliseconds - initialized} ms";
            }
            catch (PythonException e)
            {
                throw new ActorStartupException(e.Type.Name == "StartupError" ? e.Message : $"{e.Type.Name}: {e.Message}", e);
            }
            _callSync = _bridge.GetAttr("call_sync");
            _submit = _bridge.GetAttr("submit");
            _cancel = _bridge.GetAttr("cancel");
            _interrupt = _bridge.GetAttr("interrupt");
            _clearInterrupt = _bridge.GetAttr("clear_interrupt");
            _beat = _bridge.GetAttr("beat");
            _interruptLoop = _bridge.GetAttr("interrupt_loop");
            _plainShape = new PyInt((int)BodyShape.Call);
            _flatShape = new PyInt((int)BodyShape.Flat);
            foreach (var method in Methods)
            {
                _methodNames[method.Name] = new PyString(method.Name);
            }
        }
        foreach (var skipped in SkippedAttributes)
        {
            LogSkippedAttribute(logger, skipped);
        }

        for (var i = 0; i < Math.Max(1, options.Workers); i++)
        {
            StartWorker();
        }
        _interrupter = new Thread(InterrupterLoop) { IsBackground = true, Name = "affinetes-python-interrupter" };
        _interrupter.Start();
        _watchdog = new Ticker("python-watch", TimeSpan.FromMilliseconds(250), () =>
        {
            Watch();
            return true;
        });
    }

    /// <summary>
    /// The host only needs to verify the auth token: the plain variable leaves Python's environment (and the C
    /// environment subprocesses inherit) before env.py is imported. Clients should set only its hash.
    /// </summary>
    private static void HideSecrets()
    {
        using var os = Py.Import("os");
        using var environ = os.GetAttr("environ");
        using var name = new PyString(HostEnvironment.AuthToken);
        environ.InvokeMethod("pop", name, PyObject.None).Dispose();
    }

    private void StartWorker()
    {
        var worker = new Worker(Interlocked.Increment(ref _workerCount) - 1);
        lock (_workersLock)
        {
            _workers.Add(worker);
        }
        worker.Thread = new Thread(() => WorkerLoop(worker)) { IsBackground = true, Name = $"affinetes-python-{worker.Index}" };
        worker.Thread.Start();
    }

    private static string ReadBridgeSource()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("affinetes_bridge.py")
            ?? throw new InvalidOperationException("the host was built without its Python bridge");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Makes the embedded interpreter's module path the one the image's python3 has (venvs, dist-packages).</summary>
    private static void SyncSysPath(IReadOnlyList<string> wanted)
    {
        using var sys = Py.Import("sys");
        using var path = sys.GetAttr("path");
        var present = new HashSet<string>(path.As<string[]>(), StringComparer.Ordinal);
        var insertAt = 0;
        foreach (var entry in wanted)
        {
            if (present.Add(entry))
            {
                using var item = new PyString(entry);
                path.InvokeMethod("insert", new PyInt(insertAt), item).Dispose();
            }
            insertAt++;
        }
    }

    private static List<MethodDescriptor> ParseMethodTable(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var methods = new List<MethodDescriptor>();
        foreach (var m in doc.RootElement.EnumerateArray())
        {
            methods.Add(new MethodDescriptor
            {
                Name = m.GetProperty("name").GetString()!,
                Signature = m.GetProperty("signature").GetString()!,
                Endpoint = m.GetProperty("endpoint").GetString()!,
                IsAsync = m.GetProperty("is_async").GetBoolean(),
                Description = m.GetProperty("description").GetString(),
                Parameters = [.. m.GetProperty("parameters").EnumerateArray().Select(p => new ParameterDescriptor
                {
                    Name = p.GetProperty("name").GetString()!,
                    Type = p.GetProperty("type").GetString(),
                    Required = p.GetProperty("required").GetBoolean(),
                    Nullable = p.GetProperty("nullable").GetBoolean(),
                    Default = p.GetProperty("default").ValueKind == JsonValueKind.Null ? null : p.GetProperty("default").Clone(),
                    Kind = p.GetProperty("kind").GetString()!,
                })],
            });
        }
        return methods;
    }

    public async Task<InvokeResult> InvokeAsync(MethodDescriptor method, ReadOnlyMemory<byte> body, BodyShape shape, CancellationToken cancellationToken)
    {
        if (_stopping)
        {
            return InvokeResult.Failure(new ErrorDetail { Code = ErrorCodes.ShuttingDown, Message = "the host is shutting down", Method = method.Name });
        }
        // CPython gets the body as text (json.loads of a str).
        var item = new WorkItem(Interlocked.Increment(ref _nextId), method.Name, method.IsAsync, System.Text.Encoding.UTF8.GetString(body.Span), shape);
        if (method.IsAsync)
        {
            _sink.Register(item.Id, item.Completion);
        }
        Enqueue(item);

        string payload;
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
        item.AbandonedAt = Environment.TickCount64;
        if (Interlocked.CompareExchange(ref item.State, WorkItem.Dropped, WorkItem.Queued) == WorkItem.Queued)
        {
            item.Body = null;
            _sink.Forget(item.Id);
            return;
        }
        if (item.IsAsync)
        {
            Enqueue(WorkItem.CancelOf(item));
            _abandonedAsync[item.Id] = item;
        }
        else if (Volatile.Read(ref item.State) == WorkItem.Running)
        {
            _interrupts.Writer.TryWrite(item);
        }
    }

    private void Enqueue(WorkItem item)
    {
        _queue.Enqueue(item);
        _available.Release();
    }

    private static InvokeResult Decode(string payload, string method)
    {
        if (payload.Length > 0 && payload[0] == '\0')
        {
            return InvokeResult.Success(payload[1..]);
        }
        using var doc = JsonDocument.Parse(payload.AsMemory(1));
        var e = doc.RootElement;
        return InvokeResult.Failure(new ErrorDetail
        {
            Code = e.GetProperty("code").GetString()!,
            Message = e.GetProperty("message").GetString()!,
            Type = e.GetProperty("type").GetString(),
            Parameter = e.GetProperty("parameter").GetString(),
            Traceback = e.GetProperty("traceback").GetString(),
            Method = method,
        });
    }

    private void WorkerLoop(Worker worker)
    {
        using var gil = Py.GIL(); // creates this thread's Python thread state once
        using (var threading = Py.Import("threading"))
        using (var ident = threading.InvokeMethod("get_ident"))
        {
            worker.PythonThreadId = ident.As<ulong>();
        }
        var threadState = PythonEngine.BeginAllowThreads();
        try
        {
            while (!worker.WrittenOff)
            {
                _available.Wait();
                if (worker.WrittenOff)
                {
                    _available.Release(); // the signal belongs to a live worker
                    return;
                }
                if (_stopping && _queue.IsEmpty)
                {
                    return;
                }
                PythonEngine.EndAllowThreads(threadState);
                try
                {
                    // Serve everything already queued under this one GIL hold.
                    do
                    {
                        if (_queue.TryDequeue(out var item))
                        {
                            Run(worker, item);
                        }
                    }
                    while (!worker.WrittenOff && _available.Wait(0));
                }
                finally
                {
                    threadState = PythonEngine.BeginAllowThreads();
                }
            }
        }
        finally
        {
            PythonEngine.EndAllowThreads(threadState);
            if (worker.WrittenOff)
            {
                LogWorkerReturned(logger, worker.Index);
            }
            lock (_workersLock)
            {
                _workers.Remove(worker);
            }
        }
    }

    private void Run(Worker worker, WorkItem item)
    {
        try
        {
            if (item.CancelTarget is { } target)
            {
                using var id = new PyInt(target.Id);
                _cancel!.Invoke(id).Dispose();
                return;
            }
            if (Interlocked.CompareExchange(ref item.State, WorkItem.Running, WorkItem.Queued) != WorkItem.Queued)
            {
                return; // dropped while queued
            }
            using var body = new PyString(item.Body!);
            item.Body = null;
            var shape = item.Shape == BodyShape.Call ? _plainShape! : _flatShape!;
            var name = _methodNames[item.Method];
            using var callId = new PyInt(item.Id);
            if (item.IsAsync)
            {
                _submit!.Invoke(callId, name, body, shape).Dispose();
                return;
            }
            item.Worker = worker;
            worker.Current = item;
            string payload;
            try
            {
                using var result = _callSync!.Invoke(callId, name, body, shape);
                payload = result.As<string>();
            }
            finally
            {
                worker.Current = null;
                Volatile.Write(ref item.State, WorkItem.Finished);
                if (item.Interrupted)
                {
                    using var thread = new PyInt(worker.PythonThreadId);
                    _clearInterrupt!.Invoke(thread).Dispose();
                }
            }
            if (payload.Length > 0 && payload[0] == '\u0002')
            {
                // The method returned an awaitable: the loop finishes it. It cannot report before this registration,
                // which happens while this thread still holds the GIL.
                _sink.Register(item.Id, item.Completion);
                return;
            }
            item.Completion.TrySetResult(payload);
        }
        catch (Exception e)
        {
            // The bridge answers every call with a tagged string; reaching here is a bug in the bridge itself.
            LogBridgeFailure(logger, item.Method, e);
            _sink.Forget(item.Id);
            item.Completion.TrySetResult("\u0001" + JsonSerializer.Serialize(new
            {
                code = ErrorCodes.ActorError,
                message = $"internal error of the Python bridge: {e.Message}",
                type = e.GetType().Name,
                parameter = (string?)null,
                traceback = (string?)null,
            }));
        }
    }

    /// <summary>
    /// Interrupts plain methods whose caller gave up (under the GIL, so it may wait for it), and pings the asyncio
    /// loop once a second so that <see cref="Watch"/> knows it runs.
    /// </summary>
    private void InterrupterLoop()
    {
        var reader = _interrupts.Reader;
        while (!_stopping)
        {
            var pending = reader.WaitToReadAsync().AsTask();
            pending.Wait(TimeSpan.FromSeconds(1));
            try
            {
                Volatile.Write(ref _interrupterWaitingSince, Environment.TickCount64);
                using (Py.GIL())
                {
                    Volatile.Write(ref _interrupterWaitingSince, 0);
                    while (reader.TryRead(out var item))
                    {
                        if (item.IsAsync)
                        {
                            if (!item.Completion.Task.IsCompleted)
                            {
                                _interruptLoop!.Invoke().Dispose();
                            }
                            continue;
                        }
                        // Under the GIL the worker is either inside the call (Running) or not in Python at all.
                        if (Volatile.Read(ref item.State) == WorkItem.Running && item.Worker is { } worker)
                        {
                            using var thread = new PyInt(worker.PythonThreadId);
                            _interrupt!.Invoke(thread).Dispose();
                            item.Interrupted = true;
                        }
                    }
                    _beat!.Invoke().Dispose();
                }
            }
            catch (PythonException e)
            {
                LogBridgeFailure(logger, "(interrupt)", e);
            }
            finally
            {
                Volatile.Write(ref _interrupterWaitingSince, 0);
            }
        }
    }

    private long _interrupterWaitingSince;

    /// <summary>
    /// Four times a second, without the GIL: writes off workers stuck in calls past their deadline (starting
    /// replacements, bounded), and decides whether anything can be served.
    /// </summary>
    private void Watch()
    {
        if (_stopping)
        {
            return;
        }
        var now = Environment.TickCount64;
        List<Worker> workers;
        lock (_workersLock)
        {
            workers = [.. _workers];
        }
        var live = 0;
        var stuck = 0;
        string? stuckIn = null;
        foreach (var worker in workers)
        {
            if (worker.WrittenOff)
            {
                stuck++;
                continue;
            }
            if (worker.Current is { AbandonedAt: > 0 } item && now - item.AbandonedAt > options.WriteOffGrace.TotalMilliseconds)
            {
                worker.WrittenOff = true;
                stuck++;
                stuckIn = item.Method;
                LogWorkerWrittenOff(logger, worker.Index, item.Method, (now - item.AbandonedAt) / 1000.0);
                continue;
            }
            live++;
        }
        // A stuck worker is replaced while fewer workers are stuck than there are workers; past that, the next
        // stuck call leaves fewer live workers, and none means nothing can be served.
        var wanted = Math.Max(1, options.Workers);
        while (live < wanted && stuck <= wanted)
        {
            StartWorker();
            live++;
        }
        foreach (var (id, item) in _abandonedAsync)
        {
            if (item.Completion.Task.IsCompleted)
            {
                _abandonedAsync.TryRemove(id, out _);
            }
            else if (now - item.AbandonedAt > options.WriteOffGrace.TotalMilliseconds && _sink.LastBeat < item.AbandonedAt && !item.Interrupted)
            {
                // Cancelling the task needs the loop to run; it has not run since: something on it never yields.
                item.Interrupted = true;
                _interrupts.Writer.TryWrite(item);
            }
        }

        var lastBeat = _sink.LastBeat;
        var waiting = Volatile.Read(ref _interrupterWaitingSince);
        string? reason = null;
        if (live == 0)
        {
            reason = $"all {stuck} Python workers are stuck in calls past their deadlines (e.g. in {stuckIn ?? "a plain method"}), in code that cannot be interrupted";
        }
        else if (waiting > 0 && now - waiting > options.LoopStallLimit.TotalMilliseconds)
        {
            reason = $"Python's GIL has been held for {(now - waiting) / 1000} s by code that does not release it";
        }
        else if (lastBeat > 0 && now - lastBeat > options.LoopStallLimit.TotalMilliseconds)
        {
            reason = $"the asyncio loop has not run for {(now - lastBeat) / 1000} s (a blocking call inside an async def, or its thread died)";
        }
        if (reason != _unservable)
        {
            _unservable = reason;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping)
        {
            return;
        }
        _stopping = true;
        _watchdog?.Dispose();
        _interrupts.Writer.TryComplete();
        List<Worker> workers;
        lock (_workersLock)
        {
            workers = [.. _workers];
        }
        if (workers.Count > 0)
        {
            _available.Release(workers.Count);
        }
        // The server has drained its calls already: a worker still in one after a second is stuck (C code) and must
        // not keep a stopped container alive.
        await Task.WhenAll(workers.Select(w => Task.Run(() => w.Thread?.Join(TimeSpan.FromSeconds(1))))).ConfigureAwait(false);
        if (_bridge is not null && workers.All(w => w.Thread?.IsAlive != true))
        {
            var stop = new Thread(() =>
            {
                using (Py.GIL())
                {
                    _bridge.InvokeMethod("stop", new PyFloat(2.0)).Dispose();
                }
            })
            { IsBackground = true, Name = "affinetes-python-stop" };
            stop.Start();
            await Task.Run(() => stop.Join(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Python bridge failed on a call to {Method}")]
    private static partial void LogBridgeFailure(ILogger logger, string method, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the Actor's attribute {Attribute} is not served")]
    private static partial void LogSkippedAttribute(ILogger logger, string attribute);

    [LoggerMessage(Level = LogLevel.Error, Message = "Python worker {Worker} is written off: {Method} ran {Seconds:0.0} s past its deadline and ignored the interrupt (a blocking call); a new worker takes its place")]
    private static partial void LogWorkerWrittenOff(ILogger logger, int worker, string method, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Python worker {Worker}, written off, has come back from its call and ends")]
    private static partial void LogWorkerReturned(ILogger logger, int worker);

    private sealed class Worker(int index)
    {
        public int Index { get; } = index;
        public Thread? Thread { get; set; }
        public ulong PythonThreadId { get; set; }
        public volatile WorkItem? Current;
        public volatile bool WrittenOff;
    }

    private sealed class WorkItem(long id, string method, bool isAsync, string? body, BodyShape shape)
    {
        public const int Queued = 0;
        public const int Running = 1;
        public const int Finished = 2;
        public const int Dropped = 3;

        public long Id { get; } = id;
        public string Method { get; } = method;
        public bool IsAsync { get; } = isAsync;
        /// <summary>Released as soon as Python has it, or when the call is dropped: a queue of abandoned calls holds no bodies.</summary>
        public volatile string? Body = body;
        public BodyShape Shape { get; } = shape;
        public TaskCompletionSource<string> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int State;
        /// <summary>When the caller gave up (Environment.TickCount64), 0 while it waits.</summary>
        public long AbandonedAt;
        public Worker? Worker;
        /// <summary>Set under the GIL when an interrupt was raised in the worker running the call.</summary>
        public bool Interrupted;
        public WorkItem? CancelTarget { get; private init; }

        public static WorkItem CancelOf(WorkItem target) =>
            new(target.Id, target.Method, target.IsAsync, null, target.Shape) { CancelTarget = target };
    }
}

/// <summary>
/// Receives the results of async calls from the asyncio loop thread. Public because Python calls it; it only hands
/// the payload to the waiting request, never runs request code on the loop thread.
/// </summary>
public sealed class CompletionSink
{
    private readonly ConcurrentDictionary<long, TaskCompletionSource<string>> _waiting = new();

    internal void Register(long id, TaskCompletionSource<string> completion) => _waiting[id] = completion;

    internal void Forget(long id) => _waiting.TryRemove(id, out _);

    /// <summary>When the asyncio loop last ran a heartbeat (Environment.TickCount64); 0 before the first.</summary>
    internal long LastBeat => Volatile.Read(ref _lastBeat);

    private long _lastBeat;

    /// <summary>Called on the asyncio loop's thread by the heartbeat the host schedules once a second.</summary>
    public void Beat() => Volatile.Write(ref _lastBeat, Environment.TickCount64);

    /// <summary>Called by the bridge with a tagged payload when an async call has finished.</summary>
    public void Complete(long id, string payload)
    {
        if (_waiting.TryRemove(id, out var completion))
        {
            completion.TrySetResult(payload);
        }
    }
}
