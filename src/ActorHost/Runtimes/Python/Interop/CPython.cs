using System.Runtime.InteropServices;
using System.Text;

namespace Affinetes.ActorHost.Runtimes.Python.Interop;

/// <summary>
/// The few functions of CPython's C API the host calls, bound at run time to the image's <c>libpython3.X.so</c>
/// (its path is only known once the interpreter is located). The host used Python.NET before: its
/// <c>PythonEngine.Initialize</c> took ~155 ms of CPU (it scans every loaded assembly's types for Python's
/// <c>import</c>, builds its type system and imports <c>importlib.abc</c> with ~30 modules behind it) where
/// <c>Py_InitializeEx</c> alone takes ~10 ms, and each call paid for its object wrappers (finalizers, argument
/// tuples, UTF-16 copies). The bridge needs none of that: bytes and strings cross, and Python reaches .NET only
/// through two native functions (<see cref="LoopCallbacks"/>).
/// <para>Every function but <see cref="Load"/> and the GIL's own needs the calling thread to hold the GIL.</para>
/// </summary>
internal static unsafe partial class CPython
{
    private const int RtldNow = 2;
    private const int RtldGlobal = 0x100;

    /// <summary><c>Py_file_input</c>: a module's source.</summary>
    public const int FileInput = 257;

    /// <summary><c>METH_FASTCALL</c>: a native function gets its arguments as an array.</summary>
    public const int MethFastCall = 0x80;

    /// <summary><c>METH_NOARGS</c>.</summary>
    public const int MethNoArgs = 0x4;

    private static nint _library;

    public static delegate* unmanaged<int> Py_IsInitialized;
    public static delegate* unmanaged<int, void> Py_InitializeEx;
    public static delegate* unmanaged<char*, void> Py_SetPythonHome;
    public static delegate* unmanaged<byte*, nuint*, char*> Py_DecodeLocale;
    public static delegate* unmanaged<nint> PyEval_SaveThread;
    public static delegate* unmanaged<nint, void> PyEval_RestoreThread;
    public static delegate* unmanaged<int> PyGILState_Ensure;
    public static delegate* unmanaged<int, void> PyGILState_Release;
    public static delegate* unmanaged<nuint> PyThread_get_thread_ident;
    public static delegate* unmanaged<nint, void> PyThreadState_Clear;
    public static delegate* unmanaged<nint, void> PyThreadState_Delete;
    public static delegate* unmanaged<nint, void> Py_IncRef;
    public static delegate* unmanaged<nint, void> Py_DecRef;
    public static delegate* unmanaged<byte*, byte*, int, nint> Py_CompileString;
    public static delegate* unmanaged<byte*, nint, byte*, nint> PyImport_ExecCodeModuleEx;
    public static delegate* unmanaged<nint, byte*, nint> PyObject_GetAttrString;
    public static delegate* unmanaged<nint, nint*, nuint, nint, nint> PyObject_Vectorcall;
    public static delegate* unmanaged<nint, nint> PyObject_Str;
    public static delegate* unmanaged<nint, nint> PyTuple_New;
    public static delegate* unmanaged<nint, nint, nint, int> PyTuple_SetItem;
    public static delegate* unmanaged<nint, nint> PyList_New;
    public static delegate* unmanaged<nint, nint, nint, int> PyList_SetItem;
    public static delegate* unmanaged<nint, nint> PyList_Size;
    public static delegate* unmanaged<nint, nint, nint> PyList_GetItem;
    public static delegate* unmanaged<long, nint> PyLong_FromLongLong;
    public static delegate* unmanaged<ulong, nint> PyLong_FromUnsignedLongLong;
    public static delegate* unmanaged<nint, long> PyLong_AsLongLong;
    public static delegate* unmanaged<void*, nint> PyLong_FromVoidPtr;
    public static delegate* unmanaged<nint, void*> PyLong_AsVoidPtr;
    public static delegate* unmanaged<long, nint> PyBool_FromLong;
    public static delegate* unmanaged<double, nint> PyFloatFromDouble;
    public static delegate* unmanaged<byte*, nint, nint> PyUnicode_FromStringAndSize;
    public static delegate* unmanaged<byte*, nint, byte*, nint> PyUnicode_DecodeUTF8;
    public static delegate* unmanaged<nint, nint*, byte*> PyUnicode_AsUTF8AndSize;
    public static delegate* unmanaged<nint*, nint*, nint*, void> PyErr_Fetch;
    public static delegate* unmanaged<nint*, nint*, nint*, void> PyErr_NormalizeException;
    public static delegate* unmanaged<nint> PyErr_Occurred;
    public static delegate* unmanaged<void> PyErr_Clear;
    public static delegate* unmanaged<nint, nint, nint, nint> PyCFunction_NewEx;
    public static delegate* unmanaged<nint> PyImport_GetModuleDict;
    public static delegate* unmanaged<nint, byte*, int> PyDict_DelItemString;

    /// <summary>Python's <c>None</c> (a borrowed reference: take one with <see cref="NewNone"/>).</summary>
    public static nint None { get; private set; }

    public static bool IsLoaded => _library != 0;

    /// <summary>
    /// Loads libpython with its symbols global: extension modules (<c>_ctypes</c>, <c>_json</c> ...) resolve the C API
    /// against the process, not against a library of their own.
    /// </summary>
    public static void Load(string libraryPath)
    {
        if (_library != 0)
        {
            return;
        }
        var handle = DlOpen(libraryPath, RtldNow | RtldGlobal);
        if (handle == 0)
        {
            throw new DllNotFoundException($"{libraryPath} could not be loaded: {DlError()}");
        }
        nint Bind(string name) => NativeLibrary.GetExport(handle, name);
        Py_IsInitialized = (delegate* unmanaged<int>)Bind(nameof(Py_IsInitialized));
        Py_InitializeEx = (delegate* unmanaged<int, void>)Bind(nameof(Py_InitializeEx));
        Py_SetPythonHome = (delegate* unmanaged<char*, void>)Bind(nameof(Py_SetPythonHome));
        Py_DecodeLocale = (delegate* unmanaged<byte*, nuint*, char*>)Bind(nameof(Py_DecodeLocale));
        PyEval_SaveThread = (delegate* unmanaged<nint>)Bind(nameof(PyEval_SaveThread));
        PyEval_RestoreThread = (delegate* unmanaged<nint, void>)Bind(nameof(PyEval_RestoreThread));
        PyGILState_Ensure = (delegate* unmanaged<int>)Bind(nameof(PyGILState_Ensure));
        PyGILState_Release = (delegate* unmanaged<int, void>)Bind(nameof(PyGILState_Release));
        PyThread_get_thread_ident = (delegate* unmanaged<nuint>)Bind(nameof(PyThread_get_thread_ident));
        PyThreadState_Clear = (delegate* unmanaged<nint, void>)Bind(nameof(PyThreadState_Clear));
        PyThreadState_Delete = (delegate* unmanaged<nint, void>)Bind(nameof(PyThreadState_Delete));
        Py_IncRef = (delegate* unmanaged<nint, void>)Bind(nameof(Py_IncRef));
        Py_DecRef = (delegate* unmanaged<nint, void>)Bind(nameof(Py_DecRef));
        Py_CompileString = (delegate* unmanaged<byte*, byte*, int, nint>)Bind(nameof(Py_CompileString));
        PyImport_ExecCodeModuleEx = (delegate* unmanaged<byte*, nint, byte*, nint>)Bind(nameof(PyImport_ExecCodeModuleEx));
        PyObject_GetAttrString = (delegate* unmanaged<nint, byte*, nint>)Bind(nameof(PyObject_GetAttrString));
        PyObject_Vectorcall = (delegate* unmanaged<nint, nint*, nuint, nint, nint>)Bind(nameof(PyObject_Vectorcall));
        PyObject_Str = (delegate* unmanaged<nint, nint>)Bind(nameof(PyObject_Str));
        PyTuple_New = (delegate* unmanaged<nint, nint>)Bind(nameof(PyTuple_New));
        PyTuple_SetItem = (delegate* unmanaged<nint, nint, nint, int>)Bind(nameof(PyTuple_SetItem));
        PyList_New = (delegate* unmanaged<nint, nint>)Bind(nameof(PyList_New));
        PyList_SetItem = (delegate* unmanaged<nint, nint, nint, int>)Bind(nameof(PyList_SetItem));
        PyList_Size = (delegate* unmanaged<nint, nint>)Bind(nameof(PyList_Size));
        PyList_GetItem = (delegate* unmanaged<nint, nint, nint>)Bind(nameof(PyList_GetItem));
        PyLong_FromLongLong = (delegate* unmanaged<long, nint>)Bind(nameof(PyLong_FromLongLong));
        PyLong_FromUnsignedLongLong = (delegate* unmanaged<ulong, nint>)Bind(nameof(PyLong_FromUnsignedLongLong));
        PyLong_AsLongLong = (delegate* unmanaged<nint, long>)Bind(nameof(PyLong_AsLongLong));
        PyLong_FromVoidPtr = (delegate* unmanaged<void*, nint>)Bind(nameof(PyLong_FromVoidPtr));
        PyLong_AsVoidPtr = (delegate* unmanaged<nint, void*>)Bind(nameof(PyLong_AsVoidPtr));
        PyBool_FromLong = (delegate* unmanaged<long, nint>)Bind(nameof(PyBool_FromLong));
        PyFloatFromDouble = (delegate* unmanaged<double, nint>)Bind("PyFloat_FromDouble");
        PyUnicode_FromStringAndSize = (delegate* unmanaged<byte*, nint, nint>)Bind(nameof(PyUnicode_FromStringAndSize));
        PyUnicode_DecodeUTF8 = (delegate* unmanaged<byte*, nint, byte*, nint>)Bind(nameof(PyUnicode_DecodeUTF8));
        PyUnicode_AsUTF8AndSize = (delegate* unmanaged<nint, nint*, byte*>)Bind(nameof(PyUnicode_AsUTF8AndSize));
        PyErr_Fetch = (delegate* unmanaged<nint*, nint*, nint*, void>)Bind(nameof(PyErr_Fetch));
        PyErr_NormalizeException = (delegate* unmanaged<nint*, nint*, nint*, void>)Bind(nameof(PyErr_NormalizeException));
        PyErr_Occurred = (delegate* unmanaged<nint>)Bind(nameof(PyErr_Occurred));
        PyErr_Clear = (delegate* unmanaged<void>)Bind(nameof(PyErr_Clear));
        PyCFunction_NewEx = (delegate* unmanaged<nint, nint, nint, nint>)Bind(nameof(PyCFunction_NewEx));
        PyImport_GetModuleDict = (delegate* unmanaged<nint>)Bind(nameof(PyImport_GetModuleDict));
        PyDict_DelItemString = (delegate* unmanaged<nint, byte*, int>)Bind(nameof(PyDict_DelItemString));
        None = NativeLibrary.GetExport(handle, "_Py_NoneStruct");
        _library = handle;
    }

    /// <summary>A new reference to <c>None</c>.</summary>
    public static nint NewNone()
    {
        Py_IncRef(None);
        return None;
    }

    /// <summary>A new <c>str</c> from UTF-8 text that is known to be valid (names, paths).</summary>
    public static nint NewString(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        fixed (byte* p = bytes)
        {
            return PyUnicode_FromStringAndSize(p, bytes.Length);
        }
    }

    /// <summary>A new <c>str</c> from bytes that came from outside (a request body): invalid sequences become U+FFFD.</summary>
    public static nint NewStringFromUtf8(ReadOnlySpan<byte> utf8)
    {
        fixed (byte* p = utf8)
        fixed (byte* errors = "replace\0"u8)
        {
            return PyUnicode_DecodeUTF8(p, utf8.Length, errors);
        }
    }

    /// <summary>The UTF-8 bytes of a <c>str</c> (no copy for ASCII text, CPython's own buffer); empty when it is not one.</summary>
    public static ReadOnlySpan<byte> Utf8Of(nint str)
    {
        nint length;
        var bytes = PyUnicode_AsUTF8AndSize(str, &length);
        if (bytes is null)
        {
            PyErr_Clear();
            return default;
        }
        return new ReadOnlySpan<byte>(bytes, (int)length);
    }

    /// <summary>The text of a <c>str</c>.</summary>
    public static string TextOf(nint str) => Encoding.UTF8.GetString(Utf8Of(str));

    /// <summary>An attribute (new reference), or a <see cref="PythonError"/>.</summary>
    public static nint GetAttr(nint target, string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = bytes)
        {
            return PythonError.ThrowIfNull(PyObject_GetAttrString(target, p));
        }
    }

    /// <summary>Calls <paramref name="callable"/> with positional arguments (borrowed); the result is a new reference.</summary>
    public static nint Call(nint callable, ReadOnlySpan<nint> arguments)
    {
        fixed (nint* args = arguments)
        {
            return PythonError.ThrowIfNull(PyObject_Vectorcall(callable, args, (nuint)arguments.Length, 0));
        }
    }

    /// <summary>Calls a method by name with positional arguments (borrowed), dropping its result.</summary>
    public static void CallMethod(nint target, string name, ReadOnlySpan<nint> arguments)
    {
        var method = GetAttr(target, name);
        try
        {
            Py_DecRef(Call(method, arguments));
        }
        finally
        {
            Py_DecRef(method);
        }
    }

    /// <summary>
    /// Compiles and runs a module's source as a new module <paramref name="name"/>. It is left out of <c>sys.modules</c>
    /// so that the next one is new too: each runtime of a process (the tests run many) keeps its own module globals.
    /// </summary>
    public static nint ExecModule(string name, string source, string fileName)
    {
        var code = Encoding.UTF8.GetBytes(source + "\0");
        var file = Encoding.UTF8.GetBytes(fileName + "\0");
        var moduleName = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* c = code)
        fixed (byte* f = file)
        fixed (byte* n = moduleName)
        {
            var compiled = PythonError.ThrowIfNull(Py_CompileString(c, f, FileInput));
            try
            {
                return PythonError.ThrowIfNull(PyImport_ExecCodeModuleEx(n, compiled, f));
            }
            finally
            {
                Py_DecRef(compiled);
                if (PyDict_DelItemString(PyImport_GetModuleDict(), n) != 0)
                {
                    PyErr_Clear();
                }
            }
        }
    }

    /// <summary>A new tuple of new <c>str</c>s.</summary>
    public static nint NewStringTuple(IReadOnlyList<string> items)
    {
        var tuple = PythonError.ThrowIfNull(PyTuple_New(items.Count));
        for (var i = 0; i < items.Count; i++)
        {
            PyTuple_SetItem(tuple, i, NewString(items[i])); // steals the item
        }
        return tuple;
    }

    /// <summary>
    /// Sets the interpreter's home (<c>sys.prefix</c>) before it starts. The text must outlive the interpreter, so it
    /// is decoded by Python's own allocator and never freed.
    /// </summary>
    public static void SetHome(string home)
    {
        var bytes = Encoding.UTF8.GetBytes(home + "\0");
        fixed (byte* p = bytes)
        {
            var wide = Py_DecodeLocale(p, null);
            if (wide is not null)
            {
                Py_SetPythonHome(wide);
            }
        }
    }

    private static nint DlOpen(string path, int mode)
    {
        try
        {
            return LibC.dlopen(path, mode);
        }
        catch (EntryPointNotFoundException)
        {
            return LibDl.dlopen(path, mode); // glibc before 2.34 keeps dlopen in libdl
        }
    }

    private static string DlError()
    {
        try
        {
            return Marshal.PtrToStringUTF8(LibC.dlerror()) ?? "unknown error";
        }
        catch (EntryPointNotFoundException)
        {
            return Marshal.PtrToStringUTF8(LibDl.dlerror()) ?? "unknown error";
        }
    }

    private static partial class LibC
    {
        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
        public static partial nint dlopen(string file, int mode);

        [LibraryImport("libc")]
        public static partial nint dlerror();
    }

    private static partial class LibDl
    {
        [LibraryImport("libdl.so.2", StringMarshalling = StringMarshalling.Utf8)]
        public static partial nint dlopen(string file, int mode);

        [LibraryImport("libdl.so.2")]
        public static partial nint dlerror();
    }
}
