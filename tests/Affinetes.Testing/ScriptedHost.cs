using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Affinetes.Testing;

/// <summary>How a <see cref="ScriptedHost"/> behaves now.</summary>
public enum ScriptedBehaviour
{
    /// <summary>Answers every request at once: <c>/ready</c> 200, calls with their echo.</summary>
    Serving,

    /// <summary>Accepts connections and requests but answers none until set back to <see cref="Serving"/> (a paused container).</summary>
    Hung,

    /// <summary>Answers calls 503 <c>overloaded</c> (refused without running them); probes still 200.</summary>
    Refusing,

    /// <summary>Answers its probes, but holds every call until set back to <see cref="Serving"/> (a wedged actor).</summary>
    CallsHang,
}

/// <summary>
/// A small server on 127.0.0.1 speaking the actor protocol (<c>/ready</c>, <c>/health</c>, <c>/call</c>), whose
/// behaviour a test scripts: answering, hanging like a paused container, refusing, or gone (<see cref="StopAsync"/>).
/// A call answers <c>{"replica": NAME, "echo": kwargs.x}</c> after <c>kwargs.sleep_ms</c>; method <c>fail</c> raises;
/// method <c>surrogate</c> answers strings holding half a UTF-16 surrogate pair (<c>\ud800</c>).
/// For the client's pool tests, where a real host would make the case slow or impossible to produce on demand.
/// </summary>
public sealed class ScriptedHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private volatile ScriptedBehaviour _behaviour = ScriptedBehaviour.Serving;
    private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _calls;
    private long _probes;
    private int _inFlight;

    private ScriptedHost(WebApplication app, string name)
    {
        _app = app;
        Name = name;
    }

    public string Name { get; }

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Calls it received (answered or not).</summary>
    public long Calls => Interlocked.Read(ref _calls);

    /// <summary><c>/ready</c> and <c>/health</c> requests it received.</summary>
    public long Probes => Interlocked.Read(ref _probes);

    /// <summary>Calls it holds now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>
    /// A behaviour the host switches to by itself when the next call arrives, before answering it: a test that wants
    /// a replica to hang with calls in flight sets this instead of racing the calls with a poll.
    /// </summary>
    public ScriptedBehaviour? BecomesOnNextCall { get; set; }

    public ScriptedBehaviour Behaviour
    {
        get => _behaviour;
        set
        {
            _behaviour = value;
            if (value is not ScriptedBehaviour.Hung and not ScriptedBehaviour.CallsHang)
            {
                _released.TrySetResult();
                _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>Starts a server on a free port of 127.0.0.1 (or on <paramref name="port"/>, to come back where a stopped one was).</summary>
    public static async Task<ScriptedHost> StartAsync(string name, int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, port);
        });
        var app = builder.Build();
        var host = new ScriptedHost(app, name);
        app.MapGet("/ready", host.ProbeAsync);
        app.MapGet("/health", host.ProbeAsync);
        app.MapPost("/call", host.CallAsync);
        await app.StartAsync();
        host.BaseUrl = new Uri(app.Urls.First().TrimEnd('/') + "/");
        return host;
    }

    private async Task ProbeAsync(HttpContext context)
    {
        Interlocked.Increment(ref _probes);
        await WaitWhileHungAsync(context.RequestAborted);
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync("{\"status\":\"ok\"}");
    }

    private async Task CallAsync(HttpContext context)
    {
        Interlocked.Increment(ref _calls);
        Interlocked.Increment(ref _inFlight);
        if (BecomesOnNextCall is { } next)
        {
            BecomesOnNextCall = null;
            Behaviour = next;
        }
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            await WaitWhileHungAsync(context.RequestAborted, calls: true);
            context.Response.ContentType = "application/json";
            if (_behaviour == ScriptedBehaviour.Refusing)
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                await context.Response.WriteAsync("{\"detail\":\"busy\",\"error\":{\"code\":\"overloaded\",\"message\":\"busy\"}}");
                return;
            }
            var kwargs = body.RootElement.TryGetProperty("kwargs", out var k) ? k : default;
            if (kwargs.ValueKind == JsonValueKind.Object && kwargs.TryGetProperty("sleep_ms", out var sleep))
            {
                await Task.Delay(sleep.GetInt32(), context.RequestAborted);
                await WaitWhileHungAsync(context.RequestAborted, calls: true);
            }
            if (body.RootElement.GetProperty("method").GetString() == "surrogate")
            {
                // Half a surrogate pair: valid JSON that no text can hold (Python's json.dumps writes it for such a str).
                await context.Response.WriteAsync("{\"status\":\"success\",\"result\":{\"score\":0.5,\"text\":\"a\\ud800b\",\"error\":\"bad \\udc00 text\"},\"error\":null}");
                return;
            }
            if (body.RootElement.GetProperty("method").GetString() == "fail")
            {
                context.Response.StatusCode = StatusCodes.Status500InternalServerError;
                await context.Response.WriteAsync("{\"detail\":\"boom\",\"error\":{\"code\":\"actor_error\",\"message\":\"boom\",\"type\":\"ValueError\"}}");
                return;
            }
            var echo = kwargs.ValueKind == JsonValueKind.Object && kwargs.TryGetProperty("x", out var x) ? x.GetRawText() : "null";
            await context.Response.WriteAsync($"{{\"status\":\"success\",\"result\":{{\"replica\":{JsonSerializer.Serialize(Name)},\"echo\":{echo}}},\"error\":null}}", Encoding.UTF8);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task WaitWhileHungAsync(CancellationToken cancellationToken, bool calls = false)
    {
        while (_behaviour == ScriptedBehaviour.Hung || (calls && _behaviour == ScriptedBehaviour.CallsHang))
        {
            await _released.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Stops listening: connections are refused from now on, as when a container dies.</summary>
    public async Task StopAsync()
    {
        Behaviour = ScriptedBehaviour.Serving; // release what it holds so that Kestrel can stop
        await _app.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Behaviour = ScriptedBehaviour.Serving;
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
