// Every native call of the host passes only blittable values (ints, pointers, UTF-8 bytes marshalled by
// LibraryImport's generated code). With runtime marshalling off, ReadyToRun compiles the calls through CPython's
// function pointers into the host's image; with it on, each such method was jitted at start-up, an IL stub per
// signature with it (the perf map showed the bridge's start-up, the worker loop and every interop call among them).
[assembly: System.Runtime.CompilerServices.DisableRuntimeMarshalling]
