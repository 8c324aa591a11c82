using System.Net;
using Affinetes.ActorHost.Endpoints;
using Affinetes.ActorHost.Runtimes;
using System.Runtime.CompilerServices;
#if !NATIVE_HOST
using Affinetes.ActorHost.Runtimes.CSharp;
#endif
using Affinetes.ActorHost.Runtimes.Python;
using Affinetes.ActorHost.Runtimes.Sidecar;
using Affinetes.Protocol;
using Microsoft.AspNetCore.Connections;

namespace Affinetes.ActorHost.Hosting;

/// <summary>Composes the host: Kestrel, the endpoint layer and an actor runtime.</summary>
internal static class ActorHostApp
{
    /// <summary>Parses options, serves until SIGTERM/Ctrl+C, drains and stops the runtime. Returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        StartupTimeline.Mark("main");
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.Out.WriteLine(ActorHostOptions.Usage);
            return 0;
        }
        var healthProbe = args.Contains("--health");
        ActorHostOptions options;
        try
        {
            options = ActorHostOptions.Load([.. args.Where(a => a != "--health")]);
        }
        catch (OptionsException e)
        {
            await Console.Error.WriteLineAsync("affinetes-host: " + e.Message);
            return 2;
        }
#if NATIVE_HOST
        if (options.Runtime == RuntimeNames.CSharp && !healthProbe)
        {
            return ManagedHost.Exec(args);
        }
#endif
        if (options.CompileOnly)
        {
            return Compile(options);
        }
        if (options.CheckOnly)
        {
            return await CheckAsync(options);
        }
        if (healthProbe)
        {
            return await ProbeHealthAsync(options);
        }

        var app = Build(options);
        var runtime = app.Services.GetRequiredService<IActorRuntime>();
        try
        {
            await app.RunAsync();
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            await Console.Error.WriteLineAsync($"affinetes-host: {options.Bind ?? "*"}:{options.Port} is already in use; choose another AFFINETES_PORT / --port");
            return 2;
        }
        finally
        {
            // The interpreter is never finalised (Py_Finalize would wait on threads stuck in C code): the process exits.
            await runtime.DisposeAsync();
        }
        return Environment.ExitCode;
    }

    /// <summary>
    /// Build-time check: the actor can be served. Python: libpython found, env.py imports, Actor defined. C#: the
    /// sources compile (or are in the compile cache) and Actor's methods can be served. Sidecar: the server starts,
    /// opens its port and describes its methods, then is stopped.
    /// </summary>
    private static async Task<int> CheckAsync(ActorHostOptions options)
    {
        var quiet = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        try
        {
            switch (options.Runtime)
            {
#if !NATIVE_HOST
                case RuntimeNames.CSharp:
                    Console.Out.WriteLine($"affinetes-host: ok: {options.EnvFile}: {CreateCSharp(options, quiet).CheckLoadable()}");
                    return 0;
#endif
                case RuntimeNames.Sidecar:
                    await using (var sidecar = CreateSidecar(options, quiet))
                    {
                        using var limit = new CancellationTokenSource(options.SidecarStartTimeout + TimeSpan.FromSeconds(20));
                        await sidecar.StartAsync(limit.Token);
                        Console.Out.WriteLine($"affinetes-host: ok: the sidecar '{string.Join(' ', options.SidecarCommand)}' serves {sidecar.Methods.Count} methods: {string.Join(", ", sidecar.Methods.Select(m => m.Name))}");
                    }
                    return 0;
                default:
                    var runtime = new PythonRuntime(ToPythonOptions(options), quiet);
                    runtime.CheckLoadable();
                    Console.Out.WriteLine($"affinetes-host: ok: {options.EnvFile} loads with Python {runtime.Installation!.Version} ({runtime.Installation.LibraryPath})");
                    return 0;
            }
        }
        catch (ActorStartupException e)
        {
            Console.Error.WriteLine("affinetes-host: " + e.Message);
            return 1;
        }
    }

    /// <summary>
    /// The image build's compile step for a C# actor: fills the compile cache so that containers start without
    /// Roslyn. Compile errors are printed and left to the start check, which fails the build with them.
    /// </summary>
    private static int Compile(ActorHostOptions options)
    {
#if NATIVE_HOST
        Console.Out.WriteLine($"affinetes-host: nothing to compile for a {options.Runtime} actor");
        return 0;
#else
        try
        {
            Console.Out.WriteLine("affinetes-host: " + CreateCSharp(options, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance).Compile());
        }
        catch (ActorStartupException e)
        {
            Console.Out.WriteLine("affinetes-host: not cached: " + e.Message);
        }
        return 0;
#endif
    }

    /// <summary>The image's HEALTHCHECK: asks the running host's /health (slim images have no curl).</summary>
    private static async Task<int> ProbeHealthAsync(ActorHostOptions options)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(4) };
        try
        {
            using var response = await http.GetAsync($"http://127.0.0.1:{options.Port}{WireRoutes.Health}");
            Console.Out.WriteLine($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Console.Out.WriteLine($"unhealthy: {e.Message}");
            return 1;
        }
    }

    private static PythonRuntimeOptions ToPythonOptions(ActorHostOptions options) => new()
    {
        EnvFile = options.EnvFile,
        PythonExecutable = options.PythonExecutable,
        Workers = options.PythonWorkers,
        Debug = options.Debug,
        StrictTypes = options.StrictTypes,
        WriteOffGrace = options.WorkerWriteOff,
        MaxResultBytes = options.MaxResultBytes,
        HiddenVariables = [HostEnvironment.AuthToken],
    };

    /// <summary>The runtime <see cref="ActorHostOptions.Runtime"/> names. Each is made in its own method so that only its assemblies load.</summary>
    private static IActorRuntime CreateRuntime(ActorHostOptions options, ILogger logger) => options.Runtime switch
    {
#if !NATIVE_HOST
        RuntimeNames.CSharp => CreateCSharp(options, logger),
#endif
        RuntimeNames.Sidecar => CreateSidecar(options, logger),
        _ => CreatePython(options, logger),
    };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PythonRuntime CreatePython(ActorHostOptions options, ILogger logger) => new(ToPythonOptions(options), logger);

#if !NATIVE_HOST
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static CSharpRuntime CreateCSharp(ActorHostOptions options, ILogger logger) => new(new CSharpRuntimeOptions
    {
        ActorFile = options.EnvFile,
        CacheDirectory = options.CacheDirectory,
        // The actor API's build is part of the key: a cached actor compiled against another build is not reused.
        HostVersion = $"{HostInfo.Version}/{typeof(Affinetes.Actors.Llm).Assembly.ManifestModule.ModuleVersionId}",
        Debug = options.Debug,
    }, logger);
#endif

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static SidecarRuntime CreateSidecar(ActorHostOptions options, ILogger logger) => new(new SidecarOptions
    {
        Command = options.SidecarCommand,
        Port = options.SidecarPort,
        DeclaredMethods = options.SidecarMethods,
        StartTimeout = options.SidecarStartTimeout,
        HiddenVariables = [HostEnvironment.AuthToken],
        MaxResultBytes = options.MaxResultBytes,
    }, logger);

    private static void OpenToEveryUser(string socketPath)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
                | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        }
    }

    /// <summary>Builds the web application for <paramref name="options"/>; tests call it with port 0 on 127.0.0.1.</summary>
    public static WebApplication Build(ActorHostOptions options, Action<ILoggingBuilder>? configureLogging = null)
    {
        var runtimeLogger = new DeferredLogger();
        var startup = new RuntimeStartup(CreateRuntime(options, runtimeLogger));
        StartupTimeline.Mark("runtime starting");
        // The host reads its settings from AFFINETES_* and options, never from appsettings files: no file watcher.
        // With the defaults, ASP.NET would watch the working directory (the environment's /app) recursively, which
        // costs start-up time for every directory in it (+140 ms for 20,000) and an inotify instance per container.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<ILoggerProvider>(_ => new BatchingConsoleLoggerProvider());
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        // Its only lines are "Request starting/finished" (the host writes its own call line); while it is enabled at
        // any level, ASP.NET creates an Activity per request for it: 10% of the echo path's CPU.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        configureLogging?.Invoke(builder.Logging);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // The hard cap; bodies between the limit and the cap are drained and answered 413 (CallEndpoint).
            kestrel.Limits.MaxRequestBodySize = (options.MaxBodyBytes * 4) + (1 << 20);
            // A body must keep coming at 16 KB/s after 5 s (Kestrel's default, 240 B/s, let ~1,000 trickling
            // connections hold the host's memory and calls).
            kestrel.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(16 * 1024, TimeSpan.FromSeconds(5));
            if (options.Bind is null)
            {
                kestrel.ListenAnyIP(options.Port);
            }
            else if (options.Bind == "localhost")
            {
                kestrel.ListenLocalhost(options.Port);
            }
            else if (IPAddress.TryParse(options.Bind, out var address))
            {
                kestrel.Listen(address, options.Port);
            }
            else
            {
                throw new OptionsException($"AFFINETES_BIND / --bind is '{options.Bind}'; give an IP address such as 127.0.0.1 or 0.0.0.0");
            }
            if (options.UnixSocket is { } socket)
            {
                // A socket file left by an earlier run of the same container would make the bind fail.
                File.Delete(socket);
                kestrel.ListenUnixSocket(socket);
            }
            if (options.LlmRelayPort is { } relayPort)
            {
                kestrel.Listen(IPAddress.Loopback, relayPort, listen => listen.Run(connection =>
                    listen.ApplicationServices.GetRequiredService<LlmRelay>().RelayAsync(connection)));
            }
        });
        if (options.LlmSocket is { } llmSocket)
        {
            builder.Services.AddSingleton(provider => new LlmRelay(llmSocket, provider.GetRequiredService<ILogger<LlmRelay>>()));
        }
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownGrace);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<Readiness>();
        builder.Services.AddSingleton(startup);
        builder.Services.AddSingleton(startup.Runtime);
        builder.Services.AddSingleton<CallEndpoint>();
        builder.Services.AddSingleton<DescribeEndpoints>();
        builder.Services.AddSingleton<Endpoints.Docs.DocsPage>();
        builder.Services.AddHostedService<RuntimeStarter>();
        builder.Services.AddHostedService<HealthWatch>();
        if (options.Lease is not null)
        {
            builder.Services.AddSingleton(TimeProvider.System);
            builder.Services.AddSingleton<Lease>();
            builder.Services.AddHostedService(provider => provider.GetRequiredService<Lease>());
        }

        var app = builder.Build();
        StartupTimeline.Mark("host composed");
        app.Lifetime.ApplicationStarted.Register(() => StartupTimeline.Mark("listening"));
        if (options.UnixSocket is { } served)
        {
            // The client reaching it runs as another user than the container's; the directory is its private one.
            app.Lifetime.ApplicationStarted.Register(() => OpenToEveryUser(served));
        }
        runtimeLogger.Target = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(startup.Runtime.GetType().FullName!);
        // The version header on every answer; the framework's own answers (no such route, wrong HTTP method) in the JSON error shape.
        app.Use(HostAnswers.InvokeAsync);
        if (options.ExpectedTokenHash is { } tokenHash)
        {
            app.Use(new BearerAuthentication(tokenHash).InvokeAsync);
        }
        if (options.Lease is not null)
        {
            app.Use(app.Services.GetRequiredService<Lease>().RenewAsync);
        }
        var describe = app.Services.GetRequiredService<DescribeEndpoints>();
        var call = app.Services.GetRequiredService<CallEndpoint>();
        app.MapGet(WireRoutes.Health, describe.Health);
        app.MapGet(WireRoutes.Ready, describe.Ready);
        app.MapGet(WireRoutes.Methods, describe.Methods);
        app.MapGet(WireRoutes.OpenApi, describe.OpenApi);
        var docs = app.Services.GetRequiredService<Endpoints.Docs.DocsPage>();
        app.MapGet(Endpoints.Docs.DocsPage.PagePath, docs.Page);
        app.MapGet(Endpoints.Docs.DocsPage.ScriptPath, docs.Script);
        app.MapGet(Endpoints.Docs.DocsPage.StylePath, docs.Style);
        app.MapPost(WireRoutes.Call, call.HandleCallAsync);
        app.MapPost("/{method}", call.HandleMethodAsync);
        return app;
    }
}
