using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Affinetes.Testing.Basilica;

/// <summary>One pod of a deployment: its container and the 127.0.0.1 port it is published on.</summary>
internal sealed class ContractPod(string containerId, int port)
{
    public string ContainerId { get; } = containerId;
    public int Port { get; } = port;
    public volatile bool Ready;
}

/// <summary>A deployment of the contract server: its spec, live status, events, pods and ingress.</summary>
internal sealed class ContractDeployment(string instanceName, string requestedName, string image, int desired, int port,
    Dictionary<string, string> env, long nanoCpus, long memoryBytes, long? ttlSeconds, string readinessPath)
{
    private readonly Lock _gate = new();
    private readonly List<object> _events = [];
    private WebApplication? _ingress;
    private int _next;

    public string InstanceName { get; } = instanceName;
    public string RequestedName { get; } = requestedName;
    public string Image { get; } = image;
    public int Desired { get; } = desired;
    public int Port { get; } = port;
    public Dictionary<string, string> Env { get; } = env;
    public long NanoCpus { get; } = nanoCpus;
    public long MemoryBytes { get; } = memoryBytes;
    public long? TtlSeconds { get; } = ttlSeconds;
    public string ReadinessPath { get; } = readinessPath;
    public DateTimeOffset CreatedAt { get; } = DateTimeOffset.UtcNow;
    public DateTimeOffset UpdatedAt { get; private set; } = DateTimeOffset.UtcNow;
    public string State { get; private set; } = "Pending";
    public string Phase { get; private set; } = "pending";
    public string? Message { get; private set; }
    public int? Progress { get; private set; }
    public string? Url { get; set; }
    public string? ResolvedImage { get; set; }
    public ConcurrentQueue<string> ContainerIds { get; } = new();
    public ConcurrentQueue<ContractPod> Pods { get; } = new();
    public CancellationTokenSource Stopping { get; } = new();
    public Task? Lifecycle { get; set; }

    public IReadOnlyList<object> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    public void Move(string state, string phase, string? message, int? progress)
    {
        lock (_gate)
        {
            State = state;
            Phase = phase;
            Message = message;
            Progress = progress;
            UpdatedAt = DateTimeOffset.UtcNow;
        }
    }

    /// <summary>
    /// Marks a pod ready; the last one moves the deployment to <c>ready</c> in the same step, so no status shows every
    /// replica ready while the phase still says health_check (Basilica derives both from one observation).
    /// </summary>
    public void PodReady(ContractPod pod)
    {
        lock (_gate)
        {
            pod.Ready = true;
            if (Pods.All(p => p.Ready))
            {
                Move("Active", "ready", null, 100);
            }
        }
    }

    public void Touch() => UpdatedAt = DateTimeOffset.UtcNow;

    public void Event(string type, string reason, string message)
    {
        lock (_gate)
        {
            _events.Add(new { type, reason, message, count = 1, last_timestamp = DateTimeOffset.UtcNow });
        }
    }

    public object ToJson()
    {
        lock (_gate)
        {
            return new
            {
                instanceName = InstanceName,
                userId = "test-user",
                @namespace = "u-test",
                state = State,
                url = Url,
                replicas = new { desired = Desired, ready = Pods.Count(p => p.Ready) },
                createdAt = CreatedAt,
                updatedAt = UpdatedAt,
                phase = Phase,
                message = Message,
                progress = Progress,
            };
        }
    }

    /// <summary>The deployment's public address: an ingress on 127.0.0.1 spreading requests over its ready pods (YARP's forwarder).</summary>
    public async Task<string> StartIngressAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Services.AddHttpForwarder();
        var app = builder.Build();
        var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });
        app.Map("/{**rest}", async (HttpContext context, IHttpForwarder forwarder) =>
        {
            var ready = Pods.Where(p => p.Ready).ToArray();
            if (ready.Length == 0)
            {
                context.Response.StatusCode = 503; // no ready endpoints behind the service
                await context.Response.WriteAsync("no healthy upstream");
                return;
            }
            var pod = ready[(int)((uint)Interlocked.Increment(ref _next) % ready.Length)];
            await forwarder.SendAsync(context, $"http://127.0.0.1:{pod.Port}/", invoker, ForwarderRequestConfig.Empty, HttpTransformer.Default);
        });
        await app.StartAsync();
        _ingress = app;
        return app.Urls.First().TrimEnd('/') + "/";
    }

    public async Task StopIngressAsync()
    {
        if (_ingress is { } app)
        {
            await app.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
            await app.DisposeAsync();
        }
    }
}
