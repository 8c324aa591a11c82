using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Affinetes.ActorHost.Hosting;
using Affinetes.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Affinetes.ActorHost.Tests;

/// <summary>A real ActorHost (Kestrel on 127.0.0.1, embedded CPython) serving one of the test environments.</summary>
public sealed class HostUnderTest : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HostUnderTest(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri Address { get; }

    /// <summary>How long a start may take: a C# actor compiled without its cache runs Roslyn jitted (seconds on a busy machine).</summary>
    public static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(90);

    /// <summary>The host's services (its runtime, readiness).</summary>
    public IServiceProvider Services => _app.Services;
    public HttpClient Client { get; }

    /// <summary>Path of a file under <c>Envs/</c> in the test output.</summary>
    public static string EnvPath(string name) => Path.Combine(AppContext.BaseDirectory, "Envs", name);

    internal static async Task<HostUnderTest> StartAsync(string envName, Func<ActorHostOptions, ActorHostOptions>? configure = null, bool waitReady = true)
    {
        // An unservable host exits after its grace: never the test process (HostProcess tests cover the exit).
        var options = new ActorHostOptions { EnvFile = EnvPath(envName), Port = 0, Bind = "127.0.0.1", UnservableGrace = TimeSpan.FromDays(1) };
        options = configure?.Invoke(options) ?? options;
        var app = ActorHostApp.Build(options, logging => logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync().Within(what: "starting the host");
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var host = new HostUnderTest(app, new Uri(address));
        if (waitReady)
        {
            await host.WaitForStateAsync("ok");
        }
        return host;
    }

    /// <summary>Polls <c>/ready</c> until its status is <paramref name="status"/>; returns the last answer.</summary>
    public async Task<JsonElement> WaitForStateAsync(string status, TimeSpan? limit = null)
    {
        JsonElement last = default;
        await Bounded.Until(async () =>
        {
            using var response = await Client.GetAsync("/ready");
            last = await response.Content.ReadFromJsonAsync<JsonElement>();
            var now = last.GetProperty("status").GetString();
            if (now == "failed" && status != "failed")
            {
                // A start that failed never becomes what is awaited: say why now, not after the whole limit.
                throw new InvalidOperationException($"/ready says the start failed while '{status}' was awaited: {last}");
            }
            return now == status;
        }, limit ?? StartLimit, $"/ready reporting '{status}'");
        return last;
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json, IDictionary<string, string>? headers = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        return Client.SendAsync(request);
    }

    /// <summary>Posts and returns the status code and the parsed JSON body.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body)> CallAsync(string path, string json, IDictionary<string, string>? headers = null)
    {
        using var response = await PostAsync(path, json, headers).Within(what: $"POST {path}");
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        return (response.StatusCode, doc.RootElement.Clone());
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync().Within(what: "stopping the host");
        await _app.DisposeAsync();
    }
}
