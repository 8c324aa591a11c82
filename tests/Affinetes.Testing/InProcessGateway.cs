using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Affinetes.LlmGateway.Hosting;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Microsoft.Extensions.Logging;

namespace Affinetes.Testing;

/// <summary>
/// A real LLM gateway in this process (API and admin on 127.0.0.1) in front of an upstream, and environments fronted
/// by it as the client fronts isolated ones: their <see cref="IEnvironment.LlmBaseUrl"/> is the gateway's, and their
/// tasks' usage and transcripts are collected from it. For tests that need the gateway without Docker.
/// </summary>
public sealed class InProcessGateway : IAsyncDisposable
{
    private readonly GatewayServer _server;

    private InProcessGateway(GatewayServer server)
    {
        _server = server;
        BaseUrl = new Uri(server.ApiAddresses.First(a => a.StartsWith("http", StringComparison.Ordinal)).TrimEnd('/') + GatewayRoutes.Api);
        Admin = new HttpClient { BaseAddress = new Uri(server.AdminAddresses.Single()), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The environments' base URL, <c>http://127.0.0.1:PORT/v1</c>.</summary>
    public Uri BaseUrl { get; }

    public HttpClient Admin { get; }

    public static async Task<InProcessGateway> StartAsync(Uri upstream)
    {
        var server = GatewayServer.Create(new GatewayOptions
        {
            Upstream = upstream,
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            AdminListen = new IPEndPoint(IPAddress.Loopback, 0),
            UpstreamTimeout = TimeSpan.FromSeconds(30),
        }, logging => logging.ClearProviders());
        await server.StartAsync(CancellationToken.None).Within(what: "starting the in-process gateway");
        return new InProcessGateway(server);
    }

    /// <summary>Registers <paramref name="policy"/> and returns <paramref name="inner"/> fronted by the gateway, with the token its actor presents.</summary>
    public async Task<(IEnvironment Environment, string Token)> FrontAsync(IEnvironment inner, GatewayTenant policy)
    {
        using var response = await Admin.PostAsJsonAsync(GatewayRoutes.Tenants, policy, GatewayJson.Default.GatewayTenant).Within(what: "registering with the gateway");
        response.EnsureSuccessStatusCode();
        var created = (await response.Content.ReadFromJsonAsync(GatewayJson.Default.GatewayTenantCreated))!;
        return (new Fronted(inner, this, created.Name), created.Token);
    }

    public async ValueTask DisposeAsync()
    {
        Admin.Dispose();
        await _server.DisposeAsync();
    }

    /// <summary>An environment whose model calls go through the gateway: everything else is the inner environment's.</summary>
    private sealed class Fronted(IEnvironment inner, InProcessGateway gateway, string name) : IEnvironment
    {
        public string Name => inner.Name;

        public IReadOnlyList<ReplicaEndpoint> Replicas => inner.Replicas;

        public string? LlmBaseUrl => gateway.BaseUrl.ToString().TrimEnd('/');

        public Task<JsonElement> CallAsync(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null,
            TimeSpan? timeout = null, CancellationToken cancellationToken = default) => inner.CallAsync(method, args, kwargs, timeout, cancellationToken);

        public Task<T> CallAsync<T>(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null,
            TimeSpan? timeout = null, CancellationToken cancellationToken = default) => inner.CallAsync<T>(method, args, kwargs, timeout, cancellationToken);

        public Task<IReadOnlyList<MethodDescriptor>> ListMethodsAsync(CancellationToken cancellationToken = default) => inner.ListMethodsAsync(cancellationToken);

        public Task<bool> HealthAsync(CancellationToken cancellationToken = default) => inner.HealthAsync(cancellationToken);

        public IReadOnlyList<ReplicaStats> GetStats() => inner.GetStats();

        public T As<T>() where T : class => inner.As<T>();

        public IAsyncEnumerable<ReplicaLogLine> ReadLogsAsync(bool follow, CancellationToken cancellationToken = default) => inner.ReadLogsAsync(follow, cancellationToken);

        public async Task<TenantUsage?> GetLlmUsageAsync(CancellationToken cancellationToken = default) =>
            await gateway.Admin.GetFromJsonAsync($"{GatewayRoutes.Usage}/{name}", GatewayJson.Default.TenantUsage, cancellationToken);

        public async Task<IReadOnlyDictionary<string, TaskRecord>> CollectLlmTasksAsync(IReadOnlyList<string> taskIds, CancellationToken cancellationToken = default)
        {
            using var response = await gateway.Admin.PostAsJsonAsync($"{GatewayRoutes.Usage}/{name}{GatewayRoutes.CollectSuffix}",
                new TaskCollection { Tasks = taskIds }, GatewayJson.Default.TaskCollection, cancellationToken);
            response.EnsureSuccessStatusCode();
            return (await response.Content.ReadFromJsonAsync(GatewayJson.Default.CollectedTasks, cancellationToken))!.Tasks;
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
