namespace Affinetes.ActorHost.Runtimes.Python.Interop;

/// <summary>A Python exception raised into the host's own call: its type's name and <c>str()</c> of it.</summary>
internal sealed class PythonError(string typeName, string message) : Exception(message)
{
    /// <summary>The exception type's <c>__name__</c>, e.g. <c>StartupError</c>.</summary>
    public string TypeName { get; } = typeName;

    /// <summary>Returns <paramref name="result"/>, or throws the pending Python error when it is null (under the GIL).</summary>
    public static nint ThrowIfNull(nint result) => result != 0 ? result : throw Fetch();

    /// <summary>Takes the pending Python error (clearing it) as a <see cref="PythonError"/>.</summary>
    public static unsafe PythonError Fetch()
    {
        nint type, value, traceback;
        CPython.PyErr_Fetch(&type, &value, &traceback);
        if (type == 0)
        {
            return new PythonError("SystemError", "a Python call failed without setting an error");
        }
        CPython.PyErr_NormalizeException(&type, &value, &traceback);
        try
        {
            var name = "Exception";
            nint typeName;
            fixed (byte* attribute = "__name__\0"u8)
            {
                typeName = CPython.PyObject_GetAttrString(type, attribute);
            }
            if (typeName != 0)
            {
                name = CPython.TextOf(typeName);
                CPython.Py_DecRef(typeName);
            }
            var message = "";
            var text = value == 0 ? 0 : CPython.PyObject_Str(value);
            if (text != 0)
            {
                message = CPython.TextOf(text);
                CPython.Py_DecRef(text);
            }
            CPython.PyErr_Clear();
            return new PythonError(name, message);
        }
        finally
        {
            CPython.Py_DecRef(type);
            if (value != 0)
            {
                CPython.Py_DecRef(value);
            }
            if (traceback != 0)
            {
                CPython.Py_DecRef(traceback);
            }
        }
    }
}
