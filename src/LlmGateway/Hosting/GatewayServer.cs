using System.Net.Sockets;
using System.Text.Json;
using Affinetes.LlmGateway.Admin;
using Affinetes.LlmGateway.Egress;
using Affinetes.LlmGateway.Tenants;
using Affinetes.LlmGateway.Proxy;
using Affinetes.Protocol;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Affinetes.LlmGateway.Hosting;

/// <summary>
/// The gateway composed: Kestrel with the API listeners (TCP and unix sockets, CONNECT tunnels in front) and the
/// admin listener, the environment registry, the admin API and the YARP-based proxy endpoint.
/// </summary>
internal sealed class GatewayServer : IAsyncDisposable
{
    /// <summary>Marks a connection accepted on the admin listener (connection item key).</summary>
    private const string AdminConnection = "affinetes.gateway.admin";
    private const UnixFileMode ApiSocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
    private const UnixFileMode AdminSocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly WebApplication _app;
    private readonly GatewayOptions _options;
    private readonly List<ListenOptions> _apiListeners = [];
    private readonly List<ListenOptions> _adminListeners = [];

    private GatewayServer(WebApplication app, GatewayOptions options)
    {
        _app = app;
        _options = options;
    }

    /// <summary>The options the gateway was started with.</summary>
    public GatewayOptions Options => _options;

    /// <summary>The registered environments (the admin API and the config file fill it).</summary>
    public ITenantRegistry Environments => _app.Services.GetRequiredService<ITenantRegistry>();

    /// <summary>Base addresses of the API once started: <c>http://127.0.0.1:PORT</c>, <c>unix:/path</c>.</summary>
    public IReadOnlyList<string> ApiAddresses => [.. _apiListeners.Select(Address)];

    /// <summary>Base addresses of the admin API once started.</summary>
    public IReadOnlyList<string> AdminAddresses => [.. _adminListeners.Select(Address)];

    /// <summary>Composes the gateway for <paramref name="options"/>; registers the config file's environments. Throws <see cref="OptionsException"/>.</summary>
    public static GatewayServer Create(GatewayOptions options, Action<ILoggingBuilder>? configureLogging = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        // Logs go to stderr; stdout carries only the one JSON line saying where the gateway listens.
        builder.Logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        // The proxy endpoint logs each upstream failure in one line with its cause; YARP's own warning for it repeats
        // that with a whole stack trace.
        builder.Logging.AddFilter("Yarp", LogLevel.Error);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        configureLogging?.Invoke(builder.Logging);

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownGrace);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<ITenantRegistry, TenantRegistry>();
        builder.Services.AddSingleton<ConnectTunnel>();
        builder.Services.AddSingleton<ProxyEndpoint>();
        builder.Services.AddSingleton<AdminEndpoints>();
        builder.Services.AddHttpForwarder();

        var app = builder.Build();
        var server = new GatewayServer(app, options);
        // Kestrel's options are completed here, once the services the CONNECT middleware needs exist.
        server.ConfigureKestrel(app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<KestrelServerOptions>>().Value);
        server.RegisterConfigFile();
        server.MapEndpoints();
        return server;
    }

    /// <summary>Starts listening; unix sockets get their modes (API: any user, tokens guard it; admin: owner only).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var path in _options.UnixSockets.Concat(_options.AdminUnixSocket is { } admin ? [admin] : []))
        {
            RemoveStaleSocket(path);
        }
        try
        {
            await _app.StartAsync(cancellationToken);
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            throw new OptionsException($"{e.Message.TrimEnd('.')}; choose another --listen / --admin-listen port");
        }
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        foreach (var path in _options.UnixSockets)
        {
            File.SetUnixFileMode(path, ApiSocketMode);
        }
        if (_options.AdminUnixSocket is { } adminSocket)
        {
            File.SetUnixFileMode(adminSocket, AdminSocketMode);
        }
    }

    /// <summary>Completes when the host stops (SIGTERM, Ctrl+C).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>The line printed on stdout once listening: <c>{"api":[...],"admin":[...]}</c>.</summary>
    public string ReadyLine()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("status", "ready");
            writer.WriteStartArray("api");
            ApiAddresses.ToList().ForEach(writer.WriteStringValue);
            writer.WriteEndArray();
            writer.WriteStartArray("admin");
            AdminAddresses.ToList().ForEach(writer.WriteStringValue);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync();
        }
        finally
        {
            await _app.DisposeAsync();
            foreach (var path in _options.UnixSockets.Concat(_options.AdminUnixSocket is { } admin ? [admin] : []))
            {
                File.Delete(path);
            }
        }
    }

    private void ConfigureKestrel(KestrelServerOptions kestrel)
    {
        var tunnel = _app.Services.GetRequiredService<ConnectTunnel>();
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxRequestBodySize = _options.MaxBodyBytes;
        foreach (var endpoint in _options.Listen)
        {
            kestrel.Listen(endpoint, listen =>
            {
                listen.Use(tunnel.Wrap);
                _apiListeners.Add(listen);
            });
        }
        foreach (var path in _options.UnixSockets)
        {
            kestrel.ListenUnixSocket(path, listen =>
            {
                listen.Use(tunnel.Wrap);
                _apiListeners.Add(listen);
            });
        }
        void Admin(ListenOptions listen)
        {
            listen.Use(next => connection =>
            {
                connection.Items[AdminConnection] = true;
                return next(connection);
            });
            _adminListeners.Add(listen);
        }
        if (_options.AdminListen is { } admin)
        {
            kestrel.Listen(admin, Admin);
        }
        if (_options.AdminUnixSocket is { } adminSocket)
        {
            kestrel.ListenUnixSocket(adminSocket, Admin);
        }
    }

    private void RegisterConfigFile()
    {
        if (_options.ConfigFile is not { } file)
        {
            return;
        }
        GatewayConfig config;
        try
        {
            using var stream = File.OpenRead(file);
            config = JsonSerializer.Deserialize(stream, GatewayJson.Default.GatewayConfig)
                ?? throw new OptionsException($"--config {file} is empty; write {{\"environments\": [...]}}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new OptionsException($"--config {file} cannot be read: {e.Message}");
        }
        foreach (var environment in config.Tenants)
        {
            if (environment.Token is null)
            {
                throw new OptionsException($"--config {file}: environment '{environment.Name}' has no \"token\"; a config file must give each environment its token");
            }
            try
            {
                Environments.Register(environment);
            }
            catch (RegistrationException e)
            {
                throw new OptionsException($"--config {file}: {e.Message}");
            }
        }
    }

    private void MapEndpoints()
    {
        _app.Use(async (context, next) =>
        {
            var onAdmin = context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(AdminConnection) == true;
            var adminPath = context.Request.Path.StartsWithSegments(GatewayRoutes.AdminPrefix);
            if (adminPath != onAdmin && context.Request.Path != GatewayRoutes.Health)
            {
                // The admin API answers on the admin listener only, the OpenAI-compatible API on the others only.
                await new OpenAiError(StatusCodes.Status404NotFound, GatewayErrorCodes.UnknownUrl, "invalid_request_error",
                    $"Unknown request URL: {context.Request.Method} {context.Request.Path} on this listener.").WriteAsync(context.Response, context.RequestAborted);
                return;
            }
            await next(context);
        });
        _app.MapGet(GatewayRoutes.Health, (HttpContext context) =>
        {
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync("{\"status\":\"ok\"}", context.RequestAborted);
        });
        _app.Services.GetRequiredService<AdminEndpoints>().Map(_app);
        var proxy = _app.Services.GetRequiredService<ProxyEndpoint>();
        _app.Map("/{**path}", proxy.HandleAsync);
    }

    private static string Address(ListenOptions listen) => listen.SocketPath is { } socket
        ? "unix:" + socket
        : $"http://{(listen.IPEndPoint!.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{listen.IPEndPoint.Address}]" : listen.IPEndPoint.Address.ToString())}:{listen.IPEndPoint.Port}";

    /// <summary>A socket file left by a gateway that died is removed; one still answering is an error.</summary>
    private static void RemoveStaleSocket(string path)
    {
        if (!Directory.Exists(Path.GetDirectoryName(path)))
        {
            throw new OptionsException($"the directory of unix socket {path} does not exist; create it first");
        }
        if (!File.Exists(path))
        {
            return;
        }
        if ((File.GetAttributes(path) & FileAttributes.Directory) != 0)
        {
            throw new OptionsException($"{path} is a directory; give the path of a socket file to create");
        }
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            File.Delete(path);
            return;
        }
        throw new OptionsException($"unix socket {path} is in use by another process; stop it or choose another path");
    }
}
