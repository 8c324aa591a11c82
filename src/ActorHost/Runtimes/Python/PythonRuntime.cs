using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using Affinetes.Protocol;
using Python.Runtime;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>Settings of the Python runtime.</summary>
public sealed record PythonRuntimeOptions
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
/// </summary>
public sealed partial class PythonRuntime(PythonRuntimeOptions options, ILogger logger) : IActorRuntime
{
    private static readonly Lock InitializationLock = new();
    private static bool _engineStarted;

    private readonly ConcurrentQueue<WorkItem> _queue = new();
    private readonly SemaphoreSlim _available = new(0);
    private readonly CompletionSink _sink = new();
    private readonly List<Thread> _workers = [];
    private readonly Dictionary<string, PyObject> _methodNames = new(StringComparer.Ordinal);
    private volatile bool _stopping;
    private long _nextId;
    private PyObject? _bridge;
    private PyObject? _callSync;
    private PyObject? _submit;
    private PyObject? _cancel;
    private PyObject? _plainShape;
    private PyObject? _flatShape;
    private PythonInstallation? _installation;

    public string Name => "python";

    /// <summary>Where start-up time went, for the ready log line.</summary>
    public string StartupTimings { get; private set; } = "";

    public IReadOnlyList<MethodDescriptor> Methods { get; private set; } = [];

    /// <summary>The interpreter in use, once started.</summary>
    public PythonInstallation? Installation => _installation;

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
            using var module = PyModule.FromString("affinetes_bridge", ReadBridgeSource());
            using var makeBridge = module.GetAttr("make_bridge");
            using var envFile = new PyString(options.EnvFile);
            using var debug = options.Debug.ToPython();
            using var sink = _sink.ToPython();
            using var strict = options.StrictTypes.ToPython();
            using var modules = new PyString(options.ModulesDirectory);
            _bridge = makeBridge.Invoke(envFile, debug, sink, strict, modules);
            try
            {
                if (loadOnly)
                {
                    _bridge.InvokeMethod("load_module").Dispose();
                    return;
                }
                using var table = _bridge.InvokeMethod("start");
                Methods = ParseMethodTable(table.As<string>());
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
            _plainShape = new PyInt((int)BodyShape.Call);
            _flatShape = new PyInt((int)BodyShape.Flat);
            foreach (var method in Methods)
            {
                _methodNames[method.Name] = new PyString(method.Name);
            }
        }

        for (var i = 0; i < Math.Max(1, options.Workers); i++)
        {
            var worker = new Thread(WorkerLoop) { IsBackground = true, Name = $"affinetes-python-{i}" };
            _workers.Add(worker);
            worker.Start();
        }
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

    public async Task<InvokeResult> InvokeAsync(MethodDescriptor method, string body, BodyShape shape, CancellationToken cancellationToken)
    {
        if (_stopping)
        {
            return InvokeResult.Failure(new ErrorDetail { Code = ErrorCodes.ShuttingDown, Message = "the host is shutting down", Method = method.Name });
        }
        var item = new WorkItem(Interlocked.Increment(ref _nextId), method.Name, method.IsAsync, body, shape);
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
            if (method.IsAsync)
            {
                Enqueue(WorkItem.CancelOf(item));
            }
            throw;
        }
        return Decode(payload, method.Name);
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

    private void WorkerLoop()
    {
        using var gil = Py.GIL(); // creates this thread's Python thread state once
        var threadState = PythonEngine.BeginAllowThreads();
        try
        {
            while (true)
            {
                _available.Wait();
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
                            Run(item);
                        }
                    }
                    while (_available.Wait(0));
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
        }
    }

    private void Run(WorkItem item)
    {
        try
        {
            if (item.CancelTarget is { } target)
            {
                if (target.Submitted)
                {
                    using var id = new PyInt(target.Id);
                    _cancel!.Invoke(id).Dispose();
                }
                else
                {
                    target.Cancelled = true;
                }
                return;
            }
            if (item.Cancelled)
            {
                _sink.Forget(item.Id);
                return;
            }
            using var body = new PyString(item.Body);
            var shape = item.Shape == BodyShape.Call ? _plainShape! : _flatShape!;
            var name = _methodNames[item.Method];
            if (item.IsAsync)
            {
                using var id = new PyInt(item.Id);
                _submit!.Invoke(id, name, body, shape).Dispose();
                item.Submitted = true;
            }
            else
            {
                using var result = _callSync!.Invoke(name, body, shape);
                item.Completion.TrySetResult(result.As<string>());
            }
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

    public async ValueTask DisposeAsync()
    {
        if (_stopping)
        {
            return;
        }
        _stopping = true;
        if (_workers.Count > 0)
        {
            _available.Release(_workers.Count);
        }
        foreach (var worker in _workers)
        {
            await Task.Run(() => worker.Join(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        }
        if (_bridge is not null)
        {
            await Task.Run(() =>
            {
                using (Py.GIL())
                {
                    _bridge.InvokeMethod("stop", new PyFloat(2.0)).Dispose();
                }
            }).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Python bridge failed on a call to {Method}")]
    private static partial void LogBridgeFailure(ILogger logger, string method, Exception exception);

    private sealed class WorkItem(long id, string method, bool isAsync, string body, BodyShape shape)
    {
        public long Id { get; } = id;
        public string Method { get; } = method;
        public bool IsAsync { get; } = isAsync;
        public string Body { get; } = body;
        public BodyShape Shape { get; } = shape;
        public TaskCompletionSource<string> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Set under the GIL once the loop has the call; read under the GIL by its cancel item.</summary>
        public bool Submitted { get; set; }
        public bool Cancelled { get; set; }
        public WorkItem? CancelTarget { get; private init; }

        public static WorkItem CancelOf(WorkItem target) =>
            new(target.Id, target.Method, target.IsAsync, "", target.Shape) { CancelTarget = target };
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

    /// <summary>Called by the bridge with a tagged payload when an async call has finished.</summary>
    public void Complete(long id, string payload)
    {
        if (_waiting.TryRemove(id, out var completion))
        {
            completion.TrySetResult(payload);
        }
    }
}
