using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Runtimes.CSharp;

/// <summary>Settings of the C# runtime.</summary>
internal sealed record CSharpRuntimeOptions
{
    /// <summary>The actor's main source, default <c>/app/Actor.cs</c>.</summary>
    public required string ActorFile { get; init; }

    /// <summary>Where compiled actors are kept, keyed by the hash of their sources (the image has them from its build).</summary>
    public required string CacheDirectory { get; init; }

    /// <summary>The host's version, part of the cache key.</summary>
    public required string HostVersion { get; init; }

    /// <summary>Exception details (stack traces) in error answers.</summary>
    public bool Debug { get; init; }
}

/// <summary>
/// Serves a C# <c>Actor</c> class: its sources are compiled once with Roslyn (or taken from the compile cache, so
/// that a container start runs no compiler), its public methods become endpoints, and calls bind JSON to their
/// parameters. Plain methods run on the request's thread; async ones are awaited, bounded by the call's deadline.
/// </summary>
internal sealed partial class CSharpRuntime(CSharpRuntimeOptions options, ILogger logger) : IActorRuntime
{
    private Dictionary<string, ActorMethod> _methods = [];
    private object? _actor;

    public string Name => "csharp";

    public string StartupTimings { get; private set; } = "";

    public IReadOnlyList<MethodDescriptor> Methods { get; private set; } = [];

    public Task StartAsync(CancellationToken cancellationToken) => Task.Run(() =>
    {
        var clock = Stopwatch.StartNew();
        var (type, how) = LoadActorType();
        var loaded = clock.ElapsedMilliseconds;
        var methods = ActorMethod.Discover(type);
        var discovered = clock.ElapsedMilliseconds;
        try
        {
            _actor = Activator.CreateInstance(type);
        }
        catch (TargetInvocationException e) when (e.InnerException is { } inner)
        {
            throw new ActorStartupException($"Failed to initialize Actor: {inner.GetType().Name}: {inner.Message}" + (options.Debug ? "\n" + inner : ""), inner);
        }
        catch (MissingMethodException)
        {
            throw new ActorStartupException($"class {type.Name} has no public constructor without parameters; the host constructs Actor with `new Actor()`");
        }
        _methods = methods.ToDictionary(m => m.Name, StringComparer.Ordinal);
        Methods = [.. methods.Select(m => m.Descriptor)];
        StartupTimings = $"csharp: {how} {loaded} ms, methods {discovered - loaded} ms, construct {clock.ElapsedMilliseconds - discovered} ms";
    }, cancellationToken);

    /// <summary>Loads the actor and checks its methods without constructing it (the build-time check).</summary>
    public string CheckLoadable()
    {
        var (type, how) = LoadActorType();
        var methods = ActorMethod.Discover(type);
        return $"{how}; {methods.Count} methods: {string.Join(", ", methods.Select(m => m.Name))}";
    }

    /// <summary>Compiles the actor into the cache (the image build's step), unless it is there already.</summary>
    public string Compile()
    {
        var sources = ActorSources.Read(options.ActorFile, options.HostVersion);
        var cached = sources.CachedAssemblyPath(options.CacheDirectory);
        if (File.Exists(cached))
        {
            return $"{cached} is up to date";
        }
        var image = CompileWithRoslyn(sources);
        WriteCache(cached, image);
        return $"compiled {Path.GetFileName(sources.MainFile)} into {cached} ({image.Length / 1024} KiB)";
    }

    private (Type Type, string How) LoadActorType()
    {
        var sources = ActorSources.Read(options.ActorFile, options.HostVersion);
        var context = new ActorLoadContext(sources);
        var cached = sources.CachedAssemblyPath(options.CacheDirectory);
        Assembly assembly;
        string how;
        if (File.Exists(cached))
        {
            assembly = context.LoadFromAssemblyPath(cached);
            how = "compile cache hit, load";
        }
        else
        {
            var clock = Stopwatch.StartNew();
            var image = CompileWithRoslyn(sources);
            var compiled = clock.ElapsedMilliseconds;
            if (TryWriteCache(cached, image))
            {
                assembly = context.LoadFromAssemblyPath(cached);
            }
            else
            {
                using var stream = new MemoryStream(image);
                assembly = context.LoadFromStream(stream);
            }
            LogCompiled(logger, Path.GetFileName(sources.MainFile), compiled);
            how = $"compiled (no cache) in {compiled} ms, load";
        }
        return (FindActorType(assembly, sources), how);
    }

    /// <summary>Kept out of line so that Roslyn's assemblies load only when something is compiled.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static byte[] CompileWithRoslyn(ActorSources sources) => CSharpCompiler.Compile(sources);

    private bool TryWriteCache(string path, byte[] image)
    {
        try
        {
            WriteCache(path, image);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogCacheNotWritable(logger, Path.GetDirectoryName(path)!, e.Message);
            return false;
        }
    }

    private static void WriteCache(string path, byte[] image)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temporary, image);
        File.Move(temporary, path, overwrite: true); // atomic: replicas starting together never read half a file
    }

    private static Type FindActorType(Assembly assembly, ActorSources sources)
    {
        Type[] types;
        try
        {
            types = assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            var missing = e.LoaderExceptions.OfType<FileNotFoundException>().Select(f => f.FileName).Distinct();
            throw new ActorStartupException($"{Path.GetFileName(sources.MainFile)} needs assemblies that are not in the image: {string.Join(", ", missing)}; put their DLLs beside it or in its lib/ folder");
        }
        var actors = types.Where(t => t.Name == "Actor" && t.IsPublic && t.IsClass).ToList();
        return actors.Count switch
        {
            0 => throw new ActorStartupException($"{sources.MainFile} defines no public class named Actor; an environment exposes its methods on `public class Actor`"),
            1 when actors[0].IsAbstract => throw new ActorStartupException($"{actors[0].FullName} is abstract (or static); the host constructs it with `new Actor()`"),
            1 when actors[0].ContainsGenericParameters => throw new ActorStartupException($"{actors[0].FullName} is generic; make Actor a plain class"),
            1 => actors[0],
            _ => throw new ActorStartupException($"several public classes are named Actor ({string.Join(", ", actors.Select(a => a.FullName))}); keep one"),
        };
    }

    public async Task<InvokeResult> InvokeAsync(MethodDescriptor method, ReadOnlyMemory<byte> body, BodyShape shape, CancellationToken cancellationToken)
    {
        var target = _methods[method.Name];
        var (arguments, error) = target.Bind(body, shape, cancellationToken);
        if (error is not null)
        {
            return InvokeResult.Failure(error with { Method = method.Name });
        }
        object? result;
        try
        {
            result = await target.InvokeAsync(_actor!, arguments!, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            return InvokeResult.Failure(new ErrorDetail
            {
                Code = ErrorCodes.ActorError,
                Message = string.IsNullOrEmpty(e.Message) ? e.GetType().Name : e.Message,
                Type = e.GetType().Name,
                Traceback = options.Debug ? e.ToString() : null,
                Method = method.Name,
            });
        }
        try
        {
            return result is null ? InvokeResult.SuccessNull() : InvokeResult.Success(JsonSerializer.SerializeToUtf8Bytes(result, result.GetType(), ActorJson.Write));
        }
        catch (Exception e) when (e is NotSupportedException or JsonException or ArgumentException or InvalidOperationException)
        {
            return InvokeResult.Failure(new ErrorDetail
            {
                Code = ErrorCodes.ResultNotSerializable,
                Message = $"the result of {method.Name} ({Naming.TypeName(result!.GetType())}) has no JSON form: {e.Message}",
                Type = e.GetType().Name,
                Method = method.Name,
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        var actor = Interlocked.Exchange(ref _actor, null);
        try
        {
            if (actor is IAsyncDisposable asyncDisposable)
            {
                await asyncDisposable.DisposeAsync().ConfigureAwait(false);
            }
            else if (actor is IDisposable disposable)
            {
                disposable.Dispose();
            }
        }
        catch (Exception e)
        {
            LogDisposeFailed(logger, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "compiled {File} with Roslyn in {ElapsedMs} ms (not in the compile cache)")]
    private static partial void LogCompiled(ILogger logger, string file, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "compile cache {Directory} is not writable ({Reason}); the actor is compiled at every start")]
    private static partial void LogCacheNotWritable(ILogger logger, string directory, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "disposing the Actor failed")]
    private static partial void LogDisposeFailed(ILogger logger, Exception exception);
}
