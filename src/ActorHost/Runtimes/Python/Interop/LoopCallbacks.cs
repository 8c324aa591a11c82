using System.Runtime.InteropServices;

namespace Affinetes.ActorHost.Runtimes.Python.Interop;

/// <summary>
/// The two native functions the bridge's asyncio loop calls, made as Python builtins over C# entry points:
/// <c>complete(call_id, payload)</c> hands a finished async call to its waiting request, and <c>take()</c> returns the
/// async calls and cancellations queued since the last take. Both run on the loop's thread, which holds the GIL.
/// </summary>
internal sealed unsafe class LoopCallbacks
{
    private readonly CompletionSink _sink;
    private readonly LoopInbox _inbox;

    private LoopCallbacks(CompletionSink sink, LoopInbox inbox)
    {
        _sink = sink;
        _inbox = inbox;
    }

    /// <summary>The builtin <c>complete</c> (a new reference, kept for the life of the process).</summary>
    public nint Complete { get; private set; }

    /// <summary>The builtin <c>take</c> (a new reference, kept for the life of the process).</summary>
    public nint Take { get; private set; }

    /// <summary>Makes the two builtins; the caller holds the GIL. They hold this object for the life of the process.</summary>
    public static LoopCallbacks Create(CompletionSink sink, LoopInbox inbox)
    {
        var callbacks = new LoopCallbacks(sink, inbox);
        var self = CPython.PyLong_FromVoidPtr((void*)GCHandle.ToIntPtr(GCHandle.Alloc(callbacks)));
        try
        {
            callbacks.Complete = NewFunction("complete"u8, (void*)(delegate* unmanaged<nint, nint*, nint, nint>)&CompleteEntry, CPython.MethFastCall, self);
            callbacks.Take = NewFunction("take"u8, (void*)(delegate* unmanaged<nint, nint, nint>)&TakeEntry, CPython.MethNoArgs, self);
        }
        finally
        {
            CPython.Py_DecRef(self); // the functions hold it
        }
        return callbacks;
    }

    /// <summary>A builtin over <paramref name="entry"/>: its PyMethodDef (32 bytes) must outlive it, so it is never freed.</summary>
    private static nint NewFunction(ReadOnlySpan<byte> name, void* entry, int flags, nint self)
    {
        var nameCopy = (byte*)NativeMemory.AllocZeroed((nuint)name.Length + 1);
        name.CopyTo(new Span<byte>(nameCopy, name.Length));
        var definition = (nint*)NativeMemory.AllocZeroed(32);
        definition[0] = (nint)nameCopy;
        definition[1] = (nint)entry;
        *(int*)&definition[2] = flags;
        return PythonError.ThrowIfNull(CPython.PyCFunction_NewEx((nint)definition, self, 0));
    }

    private static LoopCallbacks Of(nint self) => (LoopCallbacks)GCHandle.FromIntPtr((nint)CPython.PyLong_AsVoidPtr(self)).Target!;

    [UnmanagedCallersOnly]
    private static nint CompleteEntry(nint self, nint* args, nint count)
    {
        try
        {
            if (count == 2)
            {
                var id = CPython.PyLong_AsLongLong(args[0]);
                // The payload's bytes are copied out while the loop still holds the GIL; the request then reads them.
                Of(self)._sink.Complete(id, CPython.Utf8Of(args[1]).ToArray());
            }
        }
        catch (Exception e)
        {
            // Nothing may escape into C: the bridge logs a failed hand-off, but this one it cannot see.
            Console.Error.WriteLine($"affinetes-host: an async result could not be handed over: {e.Message}");
        }
        return CPython.NewNone();
    }

    [UnmanagedCallersOnly]
    private static nint TakeEntry(nint self, nint unused)
    {
        try
        {
            return Of(self)._inbox.Take();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"affinetes-host: queued async calls could not be taken: {e.Message}");
            return CPython.PyList_New(0);
        }
    }
}
