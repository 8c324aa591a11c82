using System.ClientModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;
using OpenAI;
using OpenAI.Chat;

namespace Affinetes.Bench;

/// <summary>
/// The episode runner's overhead: N episodes of S steps against a trivial interactive environment (one host process
/// in url mode), the model being a local OpenAI-compatible server that answers at once, C in flight. The runner (episode
/// mode, store on) against the same work issued directly: reset, then per step the same chat request (the whole
/// conversation, through the same OpenAI SDK) and step, then stop, as raw client calls. Rounds alternate which goes
/// first; the median round of each is reported.
/// </summary>
public static class EpisodesBenchmark
{
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(3);

    public sealed record Measured(string What, int Episodes, int Steps, int Concurrency, double Seconds, double StepsPerSecond, double CpuUsPerStep, long Failed);

    /// <summary>
    /// The deadline of each call issued directly: the runner's default for a task whose method names no timeout, which
    /// it gives each step (what is left of it), so that both sides pay for the same deadlines (a timer here, a header
    /// and a timer in the host). <c>--no-deadlines</c> measures both without any.
    /// </summary>
    private static readonly TimeSpan CallDeadline = TimeSpan.FromSeconds(600);

    public static async Task<int> RunAsync(string hostBinary, int episodes, int steps, int concurrency, int rounds, bool deadlines, string output)
    {
        Console.WriteLine($"== episodes: {episodes:N0} episodes of {steps} steps at {concurrency} in flight, the runner (store on) vs the same calls issued directly, " +
            (deadlines ? $"each call with a deadline ({CallDeadline.TotalSeconds:0} s, the runner's default)" : "no call with a deadline"));
        TimeSpan? timeout = deadlines ? CallDeadline : null;
        TimeSpan? taskTimeout = deadlines ? null : Timeout.InfiniteTimeSpan;
        var port = ServerProcess.FreePort();
        var start = new ProcessStartInfo(hostBinary);
        start.Environment["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "episodes", "episodes_env.py");
        start.Environment["AFFINETES_BIND"] = "127.0.0.1";
        start.Environment["AFFINETES_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        await using var host = await ServerProcess.StartAsync(start, port, """{"method":"stop","args":[],"kwargs":{"episode_id":"none"}}""");
        await using var model = await LocalLlmServer.StartAsync(_ => LlmReply.Text("move") with { Usage = (10, 1) });
        await using var env = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [host.BaseUrl] });
        var directory = Directory.CreateTempSubdirectory("affinetes-bench-episodes-").FullName;
        var raw = new List<Measured>();
        var viaClient = new List<Measured>();
        var ran = new List<Measured>();
        try
        {
            await using var store = await ResultStore.OpenAsync(Path.Combine(directory, "episodes.db"));
            var runner = EvaluationRunner.Create(env, store);
            var settings = new EpisodeSettings { BaseUrl = model.BaseUrl.ToString(), Model = "bench", ApiKey = "sk-bench", MaxSteps = steps };
            var chat = new ChatClient("bench", new ApiKeyCredential("sk-bench"), new OpenAIClientOptions { Endpoint = model.BaseUrl });

            for (var warm = 0; warm < 2; warm++) // warm-up: JIT (tiered), connections
            {
                await RawAsync(env, chat, episodes, steps, concurrency, timeout);
                await ClientAsync(env, chat, episodes, steps, concurrency, timeout);
                await RunnerAsync(runner, settings, episodes, steps, concurrency, taskTimeout);
            }
            for (var round = 0; round < rounds; round++)
            {
                var order = new Func<Task>[]
                {
                    async () => raw.Add(await RawAsync(env, chat, episodes, steps, concurrency, timeout)),
                    async () => viaClient.Add(await ClientAsync(env, chat, episodes, steps, concurrency, timeout)),
                    async () => ran.Add(await RunnerAsync(runner, settings, episodes, steps, concurrency, taskTimeout)),
                };
                for (var i = 0; i < order.Length; i++)
                {
                    await order[(i + round) % order.Length]();
                }
                Console.WriteLine($"   round {round + 1}: direct {raw[^1].Seconds:0.000} s ({raw[^1].CpuUsPerStep:0} us CPU/step), episode client {viaClient[^1].Seconds:0.000} s ({viaClient[^1].CpuUsPerStep:0}), " +
                    $"runner {ran[^1].Seconds:0.000} s ({ran[^1].CpuUsPerStep:0}): {ran[^1].Seconds / raw[^1].Seconds - 1:+0.0%;-0.0%}");
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }

        // The median of the per-round ratios: this machine drifts between rounds for both alike.
        var ratios = raw.Zip(ran, (r, e) => e.Seconds / r.Seconds).Order().ToList();
        var overhead = ratios[ratios.Count / 2] - 1;
        var cpuOverhead = Median(raw.Zip(ran, (r, e) => e.CpuUsPerStep / r.CpuUsPerStep)) - 1;
        var (medianRaw, medianClient, medianRan) = (Median(raw), Median(viaClient), Median(ran));
        Console.WriteLine();
        Console.WriteLine($"{"what",-36} {"episodes",8} {"steps",6} {"in flight",9} {"seconds",8} {"steps/s",9} {"CPU us/step",11} {"failed",6}");
        foreach (var m in new[] { medianRaw, medianClient, medianRan })
        {
            Console.WriteLine($"{m.What,-36} {m.Episodes,8:N0} {m.Steps,6} {m.Concurrency,9} {m.Seconds,8:0.000} {m.StepsPerSecond,9:N0} {m.CpuUsPerStep,11:0.0} {m.Failed,6}");
        }
        Console.WriteLine($"runner overhead: {overhead:+0.0%;-0.0%} time, {cpuOverhead:+0.0%;-0.0%} CPU per step, against the same calls issued directly (medians of {rounds} rounds' ratios; target: at most +10%)");
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new
        {
            date = DateTime.UtcNow,
            cores = Environment.ProcessorCount,
            rounds,
            deadlines,
            direct = raw,
            episode_client = viaClient,
            runner = ran,
            runner_overhead = overhead,
            runner_cpu_overhead = cpuOverhead,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"results written to {output}");
        return raw.Concat(ran).Any(m => m.Failed > 0) ? 1 : 0;
    }

    private static Measured Median(List<Measured> rounds) => rounds.OrderBy(m => m.Seconds).ElementAt(rounds.Count / 2);

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>The same episodes through the episode client (<c>env.OpenEnv()</c>) without the runner: what the library's pinning costs.</summary>
    private static async Task<Measured> ClientAsync(IEnvironment env, ChatClient chat, int episodes, int steps, int concurrency, TimeSpan? timeout)
    {
        using var limit = new CancellationTokenSource(RunLimit);
        var next = -1;
        long failed = 0;
        var openEnv = env.OpenEnv();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < episodes)
            {
                try
                {
                    await using var episode = await openEnv.ResetAsync(i, i, timeout: timeout, cancellationToken: limit.Token);
                    List<OpenAI.Chat.ChatMessage> conversation = [new SystemChatMessage(EpisodeSettings.DefaultSystemPrompt), new UserChatMessage(episode.Reset.ObservationText)];
                    for (var s = 0; s < steps; s++)
                    {
                        var action = (await chat.CompleteChatAsync(conversation, cancellationToken: limit.Token)).Value.Content[0].Text;
                        conversation.Add(new AssistantChatMessage(action));
                        var step = await episode.StepAsync(action, timeout: timeout, cancellationToken: limit.Token);
                        conversation.Add(new UserChatMessage(step.ObservationText));
                    }
                }
                catch (Exception e) when (e is AffinetesException or ClientResultException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        })));
        clock.Stop();
        return Result("episode client issued directly", episodes, steps, concurrency, clock.Elapsed, Process.GetCurrentProcess().TotalProcessorTime - cpu, failed);
    }

    /// <summary>The episodes' calls issued directly: reset, per step the model's request and step, stop.</summary>
    private static async Task<Measured> RawAsync(IEnvironment env, ChatClient chat, int episodes, int steps, int concurrency, TimeSpan? timeout)
    {
        using var limit = new CancellationTokenSource(RunLimit);
        var next = -1;
        long failed = 0;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < episodes)
            {
                try
                {
                    var reset = await env.CallAsync("reset", kwargs: new Dictionary<string, object?> { ["task_id"] = i, ["seed"] = i }, timeout: timeout, cancellationToken: limit.Token);
                    var id = reset.GetProperty("episode_id").GetString();
                    List<OpenAI.Chat.ChatMessage> conversation = [new SystemChatMessage(EpisodeSettings.DefaultSystemPrompt), new UserChatMessage(reset.GetProperty("observation").GetString())];
                    for (var s = 0; s < steps; s++)
                    {
                        var action = (await chat.CompleteChatAsync(conversation, cancellationToken: limit.Token)).Value.Content[0].Text;
                        conversation.Add(new AssistantChatMessage(action));
                        var step = await env.CallAsync("step", kwargs: new Dictionary<string, object?> { ["action"] = action, ["episode_id"] = id }, timeout: timeout, cancellationToken: limit.Token);
                        conversation.Add(new UserChatMessage(step.GetProperty("observation").GetString()));
                    }
                    await env.CallAsync("stop", kwargs: new Dictionary<string, object?> { ["episode_id"] = id }, timeout: timeout, cancellationToken: limit.Token);
                }
                catch (Exception e) when (e is AffinetesException or ClientResultException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        })));
        clock.Stop();
        return Result("same calls issued directly", episodes, steps, concurrency, clock.Elapsed, Process.GetCurrentProcess().TotalProcessorTime - cpu, failed);
    }

    private static async Task<Measured> RunnerAsync(IEvaluationRunner runner, EpisodeSettings settings, int episodes, int steps, int concurrency, TimeSpan? taskTimeout)
    {
        using var limit = new CancellationTokenSource(RunLimit);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var run = await runner.StartAsync(new EvaluationRequest
        {
            TaskIds = [.. Enumerable.Range(0, episodes).Select(i => (long)i)],
            Concurrency = concurrency,
            Episodes = settings,
            TaskTimeout = taskTimeout,
        }, limit.Token);
        long failed = 0;
        await foreach (var result in run.ResultsAsync(limit.Token))
        {
            if (!result.Completed || result.Value!.Value.GetProperty("steps").GetInt32() != steps)
            {
                failed++;
            }
        }
        clock.Stop();
        return Result("runner, episode mode, store on", episodes, steps, concurrency, clock.Elapsed, Process.GetCurrentProcess().TotalProcessorTime - cpu, failed);
    }

    private static Measured Result(string what, int episodes, int steps, int concurrency, TimeSpan elapsed, TimeSpan cpu, long failed) =>
        new(what, episodes, steps, concurrency, Math.Round(elapsed.TotalSeconds, 3), Math.Round(episodes * steps / elapsed.TotalSeconds, 1),
            Math.Round(cpu.TotalMicroseconds / (episodes * steps), 1), failed);
}
