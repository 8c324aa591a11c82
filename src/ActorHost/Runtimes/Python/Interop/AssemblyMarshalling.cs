// Every native call of the host passes only blittable values (ints, pointers, UTF-8 bytes marshalled by
// LibraryImport's generated code), so runtime marshalling is off. It was turned off hoping that ReadyToRun would then
// precompile the calls through CPython's function pointers; measured with the perf map of the published host
// (DOTNET_PerfMapEnabled=3), it does not: the 13 methods of the host that make such calls (the bridge's start, the
// worker loop, CallSync ...) are still jitted at start, with an IL stub per signature. Declaring the C API as DllImports
// of a fixed name resolved to the loaded libpython (NativeLibrary.SetDllImportResolver) is the way left to try.
[assembly: System.Runtime.CompilerServices.DisableRuntimeMarshalling]
