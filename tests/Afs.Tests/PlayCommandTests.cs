using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary>A host process serving environments/python-guess, for <c>afs play</c>.</summary>
public sealed class GuessHostFixture : IAsyncLifetime
{
    public HostProcess Host { get; private set; } = null!;

    public string Url => $"http://127.0.0.1:{Host.Port}";

    public async Task InitializeAsync()
    {
        Host = HostProcess.Start(new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", "python-guess", "env.py") });
        await Host.WaitReadyAsync(TimeSpan.FromSeconds(60));
    }

    public Task DisposeAsync() => Host.DisposeAsync().AsTask();

    /// <summary>The environment's own count of episodes: open now, started, stopped.</summary>
    public async Task<(int Open, int Started, int Stopped)> StatsAsync()
    {
        using var response = await Host.Client.PostAsJsonAsync("/stats", new { }).Within(what: "stats");
        var stats = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("result");
        return (stats.GetProperty("open").GetInt32(), stats.GetProperty("started").GetInt32(), stats.GetProperty("stopped").GetInt32());
    }
}

/// <summary><c>afs play</c> as a user runs it: a separate afs process, actions written to its stdin through a pipe.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class PlayCommandTests(GuessHostFixture fixture) : IClassFixture<GuessHostFixture>
{
    private static Process StartPlay(params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "afs.dll"));
        start.ArgumentList.Add("play");
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        return Process.Start(start)!;
    }

    private static async Task<string> NextLineAsync(Process afs, string what) =>
        await afs.StandardOutput.ReadLineAsync().Within(TimeSpan.FromSeconds(60), what) ?? throw new InvalidOperationException($"afs play ended before {what}: {await afs.StandardError.ReadToEndAsync()}");

    [Fact]
    public async Task JsonMode_ThroughAPipe_PlaysAnEpisodeToItsEnd_OneJsonLinePerEvent_AndStopsIt()
    {
        var before = await fixture.StatsAsync();
        using var afs = StartPlay("--url", fixture.Url, "--task-id", "7", "--json");
        var reset = JsonDocument.Parse(await NextLineAsync(afs, "the reset line")).RootElement;
        Assert.Equal(["event", "episode_id", "replica", "observation", "info"], reset.EnumerateObject().Select(p => p.Name));
        Assert.Equal(("reset", fixture.Url, 7, 7), (reset.GetProperty("event").GetString(), reset.GetProperty("replica").GetString(),
            reset.GetProperty("info").GetProperty("task_id").GetInt32(), reset.GetProperty("info").GetProperty("seed").GetInt32()));

        int low = 1, high = 100, steps = 0;
        JsonElement step;
        do
        {
            var guess = (low + high) / 2;
            await afs.StandardInput.WriteLineAsync(guess.ToString(CultureInfo.InvariantCulture));
            await afs.StandardInput.FlushAsync();
            step = JsonDocument.Parse(await NextLineAsync(afs, $"step {++steps}")).RootElement;
            Assert.Equal(["event", "step", "action", "observation", "reward", "done", "truncated", "info"], step.EnumerateObject().Select(p => p.Name));
            Assert.Equal(steps, step.GetProperty("step").GetInt32());
            (low, high) = step.GetProperty("observation").GetString()!.Contains("higher", StringComparison.Ordinal) ? (guess + 1, high) : (low, guess - 1);
        }
        while (!step.GetProperty("done").GetBoolean() && steps < 10);

        var end = JsonDocument.Parse(await NextLineAsync(afs, "the end line")).RootElement;
        Assert.Equal(("end", reset.GetProperty("episode_id").GetString(), "done", steps, 1.0, true), (end.GetProperty("event").GetString(),
            end.GetProperty("episode_id").GetString(), end.GetProperty("stop_reason").GetString(), end.GetProperty("steps").GetInt32(),
            end.GetProperty("reward").GetDouble(), end.GetProperty("stopped").GetBoolean()));
        await afs.WaitForExitAsync().Within(TimeSpan.FromSeconds(30), "afs play exiting");
        Assert.Equal(0, afs.ExitCode);
        Assert.Equal((before.Open, before.Started + 1, before.Stopped + 1), await fixture.StatsAsync());
    }

    [Fact]
    public async Task TheEndOfInput_StopsTheEpisode_AndAfsSaysSo()
    {
        var before = await fixture.StatsAsync();
        using var afs = StartPlay("--url", fixture.Url, "--task-id", "3", "--seed", "11");
        await afs.StandardInput.WriteLineAsync("50");
        afs.StandardInput.Close();
        var output = await afs.StandardOutput.ReadToEndAsync().Within(TimeSpan.FromSeconds(60), "afs play's output");
        var error = await afs.StandardError.ReadToEndAsync().Within();
        await afs.WaitForExitAsync().Within(TimeSpan.FromSeconds(30), "afs play exiting");

        Assert.True(afs.ExitCode == 0, error);
        var lines = output.TrimEnd('\n').Split('\n');
        Assert.StartsWith("I have chosen a secret integer between 1 and 100.", lines[0]);
        Assert.Matches(@"^reward 0, done false$|^reward 1, done true$", lines[1]);
        Assert.Matches(@"^afs play: episode [0-9a-f]{32} on http://127\.0\.0\.1:\d+ \(task 3, seed 11\); one action per line, end of input \(Ctrl\+D\) stops it\n", error);
        Assert.Matches(@"afs play: episode [0-9a-f]{32} (stopped at the end of input|done): reward [01] in 1 step; stopped\n$", error);
        Assert.Equal((before.Open, before.Started + 1, before.Stopped + 1), await fixture.StatsAsync());
    }

    [Fact]
    public async Task CtrlC_StopsTheEpisode_AndExits130()
    {
        var before = await fixture.StatsAsync();
        using var afs = StartPlay("--url", fixture.Url, "--task-id", "5");
        await NextLineAsync(afs, "the first observation"); // the episode is open, afs waits for an action
        using (var interrupt = Process.Start("kill", ["-INT", afs.Id.ToString(CultureInfo.InvariantCulture)])!)
        {
            await interrupt.WaitForExitAsync().Within();
        }
        await afs.WaitForExitAsync().Within(TimeSpan.FromSeconds(30), "afs play exiting after Ctrl+C");
        var error = await afs.StandardError.ReadToEndAsync().Within();
        Assert.Equal(130, afs.ExitCode);
        Assert.EndsWith("afs play: cancelled; the episode was stopped\n", error);
        Assert.Equal((before.Open, before.Started + 1, before.Stopped + 1), await fixture.StatsAsync());
    }

    [Fact]
    public async Task ANonInteractiveEnvironment_IsRefusedInOneLine_BeforeAnyEpisode()
    {
        await using var host = HostProcess.Start(new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", "hanging", "env.py") });
        await host.WaitReadyAsync();
        var url = $"http://127.0.0.1:{host.Port}";
        var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync("play", "--url", url);
        Assert.Equal(3, exit);
        Assert.Equal("", output);
        Assert.Matches($@"^afs play: the environment has no method 'reset'; {Regex(url)} is not interactive \(it has [a-z_, ]+\): afs play needs an OpenEnv environment, with reset and step\n$", error);
    }

    [Theory]
    [InlineData("afs play: name the environment (afs play NAME; afs ps lists them) or give --url URL, not both\n")]
    [InlineData("afs play: name the environment (afs play NAME; afs ps lists them) or give --url URL, not both\n", "some-env", "--url", "http://127.0.0.1:9")]
    public async Task Usage_IsCheckedFirst(string expected, params string[] args)
    {
        var (exit, _, error) = await AfsEnvironmentFixture.AfsAsync(["play", .. args]);
        Assert.Equal((1, expected), (exit, error));
    }

    private static string Regex(string text) => System.Text.RegularExpressions.Regex.Escape(text);
}
