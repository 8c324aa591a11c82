using System.Reflection;
using System.Text.Json;
using Affinetes.ActorHost.Runtimes.Python.Interop;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Runtimes.Python;

/// <summary>
/// The host's handle on <c>affinetes_bridge.py</c>: the bridge object and the functions the workers, the loop's
/// inbox and the watchdog call, with the Python objects every call reuses (method names, body shapes). Every member
/// needs the calling thread to hold the GIL.
/// </summary>
internal sealed unsafe class PythonBridge
{
    private static readonly Lock ModuleLock = new();
    private static nint _module;
    private readonly nint _bridge;
    private readonly Dictionary<string, nint> _names = new(StringComparer.Ordinal);
    private nint _callSync;
    private nint _interrupt;
    private nint _clearInterrupt;
    private nint _interruptLoop;
    private nint _shapeCall;
    private nint _shapeFlat;
    private nint _takeSubmit;
    private nint _takeCancel;

    private PythonBridge(nint bridge) => _bridge = bridge;

    /// <summary>The write end of the asyncio loop's wake pipe.</summary>
    public int WakeFd { get; private set; } = -1;

    /// <summary>
    /// Compiles and runs the bridge module, once per process: every runtime of the process (tests start many) makes
    /// its bridge from the same module. Called without the GIL; takes it.
    /// </summary>
    public static void EnsureModule()
    {
        // Running the module releases the GIL (its imports), so the lock, not the GIL, keeps a second runtime from
        // running it at the same time (which once removed the first one's module from sys.modules mid-import).
        lock (ModuleLock)
        {
            if (_module != 0)
            {
                return;
            }
            using (Gil.Acquire())
            {
                _module = CPython.ExecModule("affinetes_bridge", ReadSource(), "affinetes_bridge.py");
            }
        }
    }

    /// <summary>Makes the bridge for <paramref name="options"/> (after <see cref="EnsureModule"/>, under the GIL).</summary>
    public static PythonBridge Create(PythonRuntimeOptions options, PythonInstallation installation, LoopCallbacks callbacks)
    {
        var make = CPython.GetAttr(Volatile.Read(ref _module), "make_bridge");
        var envFile = CPython.NewString(options.EnvFile);
        var debug = CPython.PyBool_FromLong(options.Debug ? 1 : 0);
        var strict = CPython.PyBool_FromLong(options.StrictTypes ? 1 : 0);
        var modules = CPython.NewString(options.ModulesDirectory);
        var maxResult = CPython.PyLong_FromLongLong(options.MaxResultBytes);
        var sysPath = CPython.NewStringTuple(installation.SysPath);
        var hidden = CPython.NewStringTuple(options.HiddenVariables);
        try
        {
            return new PythonBridge(CPython.Call(make, [envFile, debug, callbacks.Complete, callbacks.Take, strict, modules, maxResult, sysPath, hidden]));
        }
        finally
        {
            foreach (var o in new[] { make, envFile, debug, strict, modules, maxResult, sysPath, hidden })
            {
                CPython.Py_DecRef(o);
            }
        }
    }

    /// <summary>Imports env.py and checks it defines an Actor class (the build-time check).</summary>
    public void LoadModule() => CPython.CallMethod(_bridge, "load_module", []);

    /// <summary>Imports env.py, starts the loop and constructs the Actor; returns the method table and what was skipped.</summary>
    public (List<MethodDescriptor> Methods, string[] Skipped) Start()
    {
        var start = CPython.GetAttr(_bridge, "start");
        List<MethodDescriptor> methods;
        try
        {
            var table = CPython.Call(start, []);
            methods = ParseMethodTable(CPython.Utf8Of(table));
            CPython.Py_DecRef(table);
        }
        finally
        {
            CPython.Py_DecRef(start);
        }
        var skippedList = CPython.GetAttr(_bridge, "skipped");
        var skipped = new string[CPython.PyList_Size(skippedList)];
        for (var i = 0; i < skipped.Length; i++)
        {
            skipped[i] = CPython.TextOf(CPython.PyList_GetItem(skippedList, i));
        }
        CPython.Py_DecRef(skippedList);

        _callSync = CPython.GetAttr(_bridge, "call_sync");
        _interrupt = CPython.GetAttr(_bridge, "interrupt");
        _clearInterrupt = CPython.GetAttr(_bridge, "clear_interrupt");
        _interruptLoop = CPython.GetAttr(_bridge, "interrupt_loop");
        var wakeFd = CPython.GetAttr(_bridge, "wake_fd");
        WakeFd = (int)CPython.PyLong_AsLongLong(wakeFd);
        CPython.Py_DecRef(wakeFd);
        _shapeCall = CPython.PyLong_FromLongLong(BridgeTags.ShapeCall);
        _shapeFlat = CPython.PyLong_FromLongLong(BridgeTags.ShapeFlat);
        _takeSubmit = CPython.PyLong_FromLongLong(BridgeTags.TakeSubmit);
        _takeCancel = CPython.PyLong_FromLongLong(BridgeTags.TakeCancel);
        foreach (var method in methods)
        {
            _names[method.Name] = CPython.NewString(method.Name);
        }
        return (methods, skipped);
    }

    /// <summary>Runs a plain method on the calling thread; returns the bridge's tagged payload.</summary>
    public byte[] CallSync(long id, string method, ReadOnlySpan<byte> body, BodyShape shape)
    {
        var callId = CPython.PyLong_FromLongLong(id);
        var text = PythonError.ThrowIfNull(CPython.NewStringFromUtf8(body));
        try
        {
            var result = CPython.Call(_callSync, [callId, _names[method], text, shape == BodyShape.Call ? _shapeCall : _shapeFlat]);
            var payload = CPython.Utf8Of(result).ToArray();
            CPython.Py_DecRef(result);
            return payload;
        }
        finally
        {
            CPython.Py_DecRef(text);
            CPython.Py_DecRef(callId);
        }
    }

    /// <summary>A <c>take()</c> entry that starts an async call (a new reference).</summary>
    public nint NewSubmitEntry(long id, string method, ReadOnlySpan<byte> body, BodyShape shape)
    {
        var entry = PythonError.ThrowIfNull(CPython.PyTuple_New(5));
        var name = _names[method];
        var shapeObject = shape == BodyShape.Call ? _shapeCall : _shapeFlat;
        CPython.Py_IncRef(_takeSubmit);
        CPython.Py_IncRef(name);
        CPython.Py_IncRef(shapeObject);
        var text = CPython.NewStringFromUtf8(body);
        if (text == 0)
        {
            CPython.PyErr_Clear();
            text = CPython.NewString("");
        }
        // PyTuple_SetItem steals each reference.
        CPython.PyTuple_SetItem(entry, 0, _takeSubmit);
        CPython.PyTuple_SetItem(entry, 1, CPython.PyLong_FromLongLong(id));
        CPython.PyTuple_SetItem(entry, 2, name);
        CPython.PyTuple_SetItem(entry, 3, text);
        CPython.PyTuple_SetItem(entry, 4, shapeObject);
        return entry;
    }

    /// <summary>A <c>take()</c> entry that cancels an async call (a new reference).</summary>
    public nint NewCancelEntry(long id)
    {
        var entry = PythonError.ThrowIfNull(CPython.PyTuple_New(5));
        CPython.Py_IncRef(_takeCancel);
        CPython.PyTuple_SetItem(entry, 0, _takeCancel);
        CPython.PyTuple_SetItem(entry, 1, CPython.PyLong_FromLongLong(id));
        CPython.PyTuple_SetItem(entry, 2, CPython.NewNone());
        CPython.PyTuple_SetItem(entry, 3, CPython.NewNone());
        CPython.PyTuple_SetItem(entry, 4, CPython.NewNone());
        return entry;
    }

    /// <summary>Raises DeadlineExceeded in the Python thread <paramref name="threadId"/> at its next bytecode.</summary>
    public void Interrupt(ulong threadId) => CallWithThread(_interrupt, threadId);

    /// <summary>Withdraws an interrupt that arrived after the call had finished.</summary>
    public void ClearInterrupt(ulong threadId) => CallWithThread(_clearInterrupt, threadId);

    /// <summary>Raises DeadlineExceeded in the asyncio loop's thread (a task that never yields).</summary>
    public void InterruptLoop() => CPython.Py_DecRef(CPython.Call(_interruptLoop, []));

    /// <summary>Cancels what runs on the loop, waits up to <paramref name="graceSeconds"/> for it, stops the loop.</summary>
    public void Stop(double graceSeconds)
    {
        var grace = CPython.PyFloatFromDouble(graceSeconds);
        try
        {
            CPython.CallMethod(_bridge, "stop", [grace]);
        }
        finally
        {
            CPython.Py_DecRef(grace);
        }
    }

    private static void CallWithThread(nint function, ulong threadId)
    {
        var thread = CPython.PyLong_FromUnsignedLongLong(threadId);
        try
        {
            CPython.Py_DecRef(CPython.Call(function, [thread]));
        }
        finally
        {
            CPython.Py_DecRef(thread);
        }
    }

    private static string ReadSource()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("affinetes_bridge.py")
            ?? throw new InvalidOperationException("the host was built without its Python bridge");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static List<MethodDescriptor> ParseMethodTable(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var doc = JsonDocument.ParseValue(ref reader);
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
}
