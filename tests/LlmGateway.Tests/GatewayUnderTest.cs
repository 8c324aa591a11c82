using System.ClientModel;
using System.Net.Http.Json;
using System.Net.Sockets;
using Affinetes.LlmGateway.Hosting;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Chat;

namespace Affinetes.LlmGateway.Tests;

/// <summary>
/// A real gateway (Kestrel on 127.0.0.1 and a unix socket, admin on its own 127.0.0.1 port) in front of a real
/// <see cref="LocalLlmServer"/>, with every log line it writes kept for inspection.
/// </summary>
public sealed class GatewayUnderTest : IAsyncDisposable
{
    private readonly GatewayServer _server;
    private readonly string _socketDirectory;

    private GatewayUnderTest(GatewayServer server, LocalLlmServer upstream, string key, string socketDirectory, CapturedLogs logs)
    {
        _server = server;
        Upstream = upstream;
        UpstreamKey = key;
        _socketDirectory = socketDirectory;
        Logs = logs;
        ApiAddress = new Uri(server.ApiAddresses.First(a => a.StartsWith("http", StringComparison.Ordinal)));
        SocketPath = server.ApiAddresses.First(a => a.StartsWith("unix:", StringComparison.Ordinal))["unix:".Length..];
        Admin = new HttpClient { BaseAddress = new Uri(server.AdminAddresses.Single()), Timeout = TimeSpan.FromSeconds(30) };
    }

    public LocalLlmServer Upstream { get; }
    /// <summary>The real key: the gateway holds it, nobody else may ever see it.</summary>
    public string UpstreamKey { get; }
    public CapturedLogs Logs { get; }
    /// <summary><c>http://127.0.0.1:PORT</c> of the API.</summary>
    public Uri ApiAddress { get; }
    /// <summary>The environments' base URL, <c>http://127.0.0.1:PORT/v1</c>.</summary>
    public Uri BaseUrl => new(ApiAddress, GatewayRoutes.Api);
    public string SocketPath { get; }
    public HttpClient Admin { get; }

    public static async Task<GatewayUnderTest> StartAsync(Func<ChatRequest, LlmReply>? responder = null, params GatewayTenant[] configured)
    {
        var upstream = await LocalLlmServer.StartAsync(responder);
        var key = "sk-upstream-" + Guid.NewGuid().ToString("N");
        var directory = Directory.CreateTempSubdirectory("afgw-test-").FullName;
        string? config = null;
        if (configured.Length > 0)
        {
            config = Path.Combine(directory, "gateway.json");
            await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new GatewayConfig { Tenants = configured }, GatewayJson.Default.GatewayConfig));
        }
        var logs = new CapturedLogs();
        var server = GatewayServer.Create(new GatewayOptions
        {
            Upstream = upstream.BaseUrl,
            UpstreamKey = new UpstreamKey(key),
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            UnixSockets = [Path.Combine(directory, "gateway.sock")],
            AdminListen = new IPEndPoint(IPAddress.Loopback, 0),
            ConfigFile = config,
            UpstreamTimeout = TimeSpan.FromSeconds(30),
            LogRequests = true,
        }, logging =>
        {
            logging.AddProvider(logs);
            logging.SetMinimumLevel(LogLevel.Trace);
            logging.AddFilter("Microsoft", LogLevel.Trace);
            logging.AddFilter("Yarp", LogLevel.Trace);
        });
        await server.StartAsync(CancellationToken.None).Within(what: "starting the gateway");
        return new GatewayUnderTest(server, upstream, key, directory, logs);
    }

    /// <summary>Registers an environment through the admin API and returns its token.</summary>
    public async Task<string> RegisterAsync(GatewayTenant environment)
    {
        using var response = await Admin.PostAsJsonAsync(GatewayRoutes.Tenants, environment, GatewayJson.Default.GatewayTenant).Within(what: "registering");
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync(GatewayJson.Default.GatewayTenantCreated))!.Token;
    }

    public async Task<TenantUsage> UsageAsync(string name)
    {
        using var response = await Admin.GetAsync($"{GatewayRoutes.Usage}/{name}").Within(what: "reading usage");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync(GatewayJson.Default.TenantUsage))!;
    }

    /// <summary>An HTTP client for the API with <paramref name="token"/> as its bearer token.</summary>
    public HttpClient Api(string? token)
    {
        var client = new HttpClient { BaseAddress = ApiAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    /// <summary>An HTTP client that reaches the API through the unix socket, as a container would.</summary>
    public HttpClient ApiOverUnixSocket(string token)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        var client = new HttpClient(handler) { BaseAddress = new Uri("http://gateway"), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>The official OpenAI SDK's chat client pointed at the gateway, as an environment's code would use it.</summary>
    public ChatClient OpenAi(string token, string model = LocalLlmServer.DefaultModel, Uri? baseUrl = null) =>
        new(model, new ApiKeyCredential(token), new OpenAIClientOptions { Endpoint = baseUrl ?? BaseUrl, NetworkTimeout = TimeSpan.FromSeconds(30), RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0) });

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static string ChatBody(string question = "What is 2+2?", string model = LocalLlmServer.DefaultModel, string extra = "") =>
        $$"""{"model":"{{model}}","messages":[{"role":"user","content":"{{question}}"}]{{extra}}}""";

    public async ValueTask DisposeAsync()
    {
        Admin.Dispose();
        await _server.DisposeAsync();
        await Upstream.DisposeAsync();
        Directory.Delete(_socketDirectory, recursive: true);
    }
}

/// <summary>Every log line the gateway writes, with its exception, kept in memory.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public string All => string.Join('\n', Lines);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"{logLevel} {category}: {formatter(state, exception)} {exception}";
            lock (owner._lines)
            {
                owner._lines.Add(line);
            }
        }
    }
}
