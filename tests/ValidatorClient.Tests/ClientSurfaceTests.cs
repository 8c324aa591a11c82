using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>The library as a validator programs against it: typed results, telemetry, logging and dependency injection.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class ClientSurfaceTests : IAsyncLifetime
{
    private ScriptedHost _host = null!;

    public async Task InitializeAsync() => _host = await ScriptedHost.StartAsync("typed");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private EnvironmentOptions Url => new() { Mode = EnvironmentMode.Url, BaseUrls = [_host.BaseUrl.ToString()] };

    public sealed record Problem(int TaskId, string PromptText, double? MaxScore);

    public sealed record Echoed(string Replica, Problem Echo);

    public sealed class NeedsScore
    {
        public required double Score { get; init; }
    }

    public interface IScripted
    {
        Task<Echoed> EchoAsync(Problem x, TimeSpan? timeout = null);
    }

    [Fact]
    public async Task TypedResults_MapSnakeCaseBothWays()
    {
        await using var env = await AffinetesClient.LoadEnvAsync(Url).Within();
        // The argument goes out snake_case ({"task_id": 3, "prompt_text": ...}), and comes back into the same members.
        var echoed = await env.CallAsync<Echoed>("echo", kwargs: new Dictionary<string, object?> { ["x"] = new Problem(3, "2+2", null) }).Within();
        Assert.Equal(new Problem(3, "2+2", null), echoed.Echo);
        var raw = await env.CallAsync("echo", kwargs: new Dictionary<string, object?> { ["x"] = new Problem(3, "2+2", 1.0) }).Within();
        Assert.Equal(3, raw.GetProperty("echo").GetProperty("task_id").GetInt32());
        Assert.Equal("2+2", raw.GetProperty("echo").GetProperty("prompt_text").GetString());
        // The typed proxy the same way.
        Assert.Equal(7, (await env.As<IScripted>().EchoAsync(new Problem(7, "q", 2)).Within()).Echo.TaskId);
    }

    [Fact]
    public async Task TypedResults_MissingRequiredMember_FailLoudly()
    {
        await using var env = await AffinetesClient.LoadEnvAsync(Url).Within();
        var missingRecordMember = await Assert.ThrowsAsync<RemoteActorException>(() =>
            env.CallAsync<Echoed>("echo", kwargs: new Dictionary<string, object?> { ["x"] = new Dictionary<string, object?> { ["prompt_text"] = "q" } }).Within());
        Assert.Contains("does not read as Echoed", missingRecordMember.Message);
        var missingRequired = await Assert.ThrowsAsync<RemoteActorException>(() =>
            env.CallAsync<NeedsScore>("echo", kwargs: new Dictionary<string, object?> { ["x"] = 1 }).Within());
        Assert.Contains("score", missingRequired.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Telemetry_OneActivityPerCall_AndTheMeters()
    {
        var activities = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == AffinetesTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (activities) { activities.Add(a); } },
        };
        ActivitySource.AddActivityListener(listener);
        var measured = new List<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == AffinetesTelemetry.Name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = tags.ToArray().ToDictionary(t => t.Key, t => t.Value);
            lock (measured)
            {
                measured.Add((instrument.Name, value, copy));
            }
        }
        meters.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        meters.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        meters.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        meters.Start();

        await using var env = await AffinetesClient.LoadEnvAsync(Url).Within();
        await env.CallAsync("echo", kwargs: new Dictionary<string, object?> { ["x"] = 1 }).Within();
        await Assert.ThrowsAsync<RemoteActorException>(() => env.CallAsync("fail").Within());
        meters.RecordObservableInstruments();

        List<Activity> calls;
        lock (activities)
        {
            calls = [.. activities.Where(a => a.OperationName == AffinetesTelemetry.CallActivity && a.GetTagItem("affinetes.environment") as string == env.Name)];
        }
        Assert.Equal(["echo", "fail"], calls.Select(a => a.GetTagItem("affinetes.method")));
        Assert.Equal(["success", "actor_error"], calls.Select(a => a.GetTagItem("affinetes.outcome")));
        Assert.All(calls, a => Assert.Equal(env.Replicas[0].Description, a.GetTagItem("affinetes.replica")));
        lock (measured)
        {
            Assert.Contains(measured, m => m.Instrument == AffinetesTelemetry.Calls && (string?)m.Tags["affinetes.outcome"] == "success");
            Assert.Contains(measured, m => m.Instrument == AffinetesTelemetry.Errors && (string?)m.Tags["error.type"] == "actor_error");
            Assert.Contains(measured, m => m.Instrument == AffinetesTelemetry.Duration && m.Value > 0);
            Assert.Contains(measured, m => m.Instrument == AffinetesTelemetry.ReplicasReady && m.Value == 1 && (string?)m.Tags["affinetes.environment"] == env.Name);
        }
    }

    [Fact]
    public async Task Logging_GoesToTheLoggerFactoryGivenWithTheLoad()
    {
        var lines = new List<string>();
        using var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new ListLoggerProvider(lines)));
        await using (var env = await AffinetesClient.LoadEnvAsync(Url, factory).Within())
        {
            await env.CallAsync("echo").Within();
        }
        lock (lines)
        {
            Assert.Contains(lines, l => l.StartsWith("1001 Information environment", StringComparison.Ordinal) && l.Contains("is ready: 1 of 1 replicas (url)", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("2002 Debug replica", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("1002 Information", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task DependencyInjection_LoadsWithTheAppsLogging_AndReleasesOnDispose()
    {
        var lines = new List<string>();
        var services = new ServiceCollection()
            .AddLogging(b => b.SetMinimumLevel(LogLevel.Information).AddProvider(new ListLoggerProvider(lines)))
            .AddAffinetes(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["DefaultCallTimeout"] = "00:00:00.5" }).Build());
        IEnvironment env;
        await using (var provider = services.BuildServiceProvider())
        {
            var client = provider.GetRequiredService<IAffinetesClient>();
            env = await client.LoadEnvAsync(Url).Within();
            Assert.Equal(1, (await env.CallAsync("echo", kwargs: new Dictionary<string, object?> { ["x"] = 1 }).Within()).GetProperty("echo").GetInt32());
            // The configured default deadline applies to calls that name none.
            await Assert.ThrowsAsync<DeadlineExceededException>(() => env.CallAsync("echo", kwargs: new Dictionary<string, object?> { ["sleep_ms"] = 3000 }).Within());
        }
        await Assert.ThrowsAsync<ObjectDisposedException>(() => env.CallAsync("echo"));
        lock (lines)
        {
            Assert.Contains(lines, l => l.Contains("released", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Library_InstallsNoSignalHandler_UnlessAsked()
    {
        // Loading environments never touches the process's signals: only the opt-in does (afs uses it).
        var hooked = typeof(AffinetesClient).Assembly.GetType("Affinetes.ValidatorClient.Environments.TenantRegistry")!
            .GetField("_limit", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        Assert.Null(hooked.GetValue(null));
    }
}

/// <summary>The client's settings from configuration are checked when the host starts, every problem at once.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class DependencyInjectionValidationTests
{
    private static IHost Build(Dictionary<string, string?> section)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(section.ToDictionary(kv => $"Affinetes:{kv.Key}", kv => kv.Value))
            .Build();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddAffinetes(configuration.GetSection("Affinetes"));
        return builder.Build();
    }

    [Fact]
    public async Task ABadSection_FailsTheHostsStart_ListingEveryProblem()
    {
        using var host = Build(new() { ["MaxLiveContainers"] = "0", ["MaxContainerCreationsPerSecond"] = "0" });
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync()).Within();
        Assert.Equal(typeof(AffinetesClientOptions), e.OptionsType);
        Assert.Collection(e.Failures,
            f => Assert.StartsWith("container limits must be at least 1 (max live containers 0", f, StringComparison.Ordinal),
            f => Assert.StartsWith("container creations per second is 0", f, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AGoodSection_StartsAndStops()
    {
        using var host = Build(new() { ["MaxLiveContainers"] = "8", ["DefaultCallTimeout"] = "00:06:00" });
        await host.StartAsync().Within();
        Assert.Equal(8, host.Services.GetRequiredService<IOptions<AffinetesClientOptions>>().Value.MaxLiveContainers);
        await host.StopAsync().Within();
    }
}
