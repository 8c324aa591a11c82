using System.Globalization;
using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Results;
using Microsoft.Data.Sqlite;

namespace Affinetes.Afs.Tests;

/// <summary>
/// <c>afs eval --episodes</c> as a user runs it: environments/python-guess served by a host process, played by a local
/// OpenAI-compatible server that searches the secret by halves, afs calling the model itself.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class EvalEpisodesTests(GuessHostFixture fixture) : IClassFixture<GuessHostFixture>, IDisposable
{
    /// <summary>The variable holding the test model's key (it takes any); named for this class so no other test sets it.</summary>
    private const string KeyVariable = "AFS_EPISODES_TEST_KEY";

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-eval-episodes-");

    static EvalEpisodesTests() => Environment.SetEnvironmentVariable(KeyVariable, "test-key");

    private string Store => Path.Combine(_work.FullName, "results.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _work.Delete(recursive: true);
    }

    private static List<JsonElement> JsonLines(string path) =>
        [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    private string[] Eval(Uri model, params string[] more) =>
        ["eval", "--url", fixture.Url, "--episodes", "--base-url", model.ToString(), "--model", "halver", "--api-key-env", KeyVariable, "--store", Store, .. more];

    [Fact]
    public async Task Episodes_EachTaskIsAnEpisodePlayedToItsEnd_LinesSayEpisodeRewardDoneSteps_AndEveryEpisodeIsStopped()
    {
        var before = await fixture.StatsAsync();
        await using var model = await LocalLlmServer.StartAsync(Players.BinarySearch);
        var jsonl = Path.Combine(_work.FullName, "episodes.jsonl");
        var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync(Eval(model.BaseUrl, "--tasks", "1-6", "--out", jsonl));
        Assert.True(exit == 0, error);

        var lines = JsonLines(jsonl);
        Assert.Equal(Enumerable.Range(1, 6), lines.Select(l => l.GetProperty("task_id").GetInt32()).Order());
        foreach (var line in lines)
        {
            // Halving 1..100 finds any secret within 7 guesses: every episode is won, the environment saying done.
            Assert.False(string.IsNullOrEmpty(line.GetProperty("episode_id").GetString()));
            Assert.Equal(1.0, line.GetProperty("reward").GetDouble());
            Assert.True(line.GetProperty("done").GetBoolean());
            Assert.InRange(line.GetProperty("steps").GetInt32(), 1, 7);
            Assert.Equal("done", line.GetProperty("stop_reason").GetString());
            Assert.Equal(1.0, line.GetProperty("score").GetDouble());
            Assert.Equal(line.GetProperty("episode_id").GetString(), line.GetProperty("result").GetProperty("episode_id").GetString());
        }
        // One model request per step, counted and stored with the results.
        var steps = lines.Sum(l => l.GetProperty("steps").GetInt32());
        Assert.Contains($"the episodes' model (called from afs; stored with the results): {steps} requests from 6 tasks", output);
        Assert.Contains("mean score 1.000", output);
        var after = await fixture.StatsAsync();
        Assert.Equal(6, after.Started - before.Started);
        Assert.Equal(6, after.Stopped - before.Stopped);
        Assert.Equal(before.Open, after.Open);

        await using var store = await ResultStore.OpenAsync(Store);
        var run = Assert.Single(await store.ListRunsAsync());
        Assert.Equal("episode", run.Method);
        Assert.Equal(lines[0].GetProperty("run").GetString(), run.Id);
    }

    [Fact]
    public async Task Episodes_CutAtMaxSteps_StopWithThatReason_UnrewardedUnlessWonBefore()
    {
        await using var model = await LocalLlmServer.StartAsync(Players.BinarySearch);
        var jsonl = Path.Combine(_work.FullName, "cut.jsonl");
        var (exit, _, error) = await AfsEnvironmentFixture.AfsAsync(Eval(model.BaseUrl, "--tasks", "1-8", "--max-steps", "2", "--out", jsonl));
        Assert.True(exit == 0, error);
        var lines = JsonLines(jsonl);
        Assert.Equal(8, lines.Count);
        foreach (var line in lines)
        {
            var reason = line.GetProperty("stop_reason").GetString();
            Assert.True(reason is "max_steps" or "done", reason);
            Assert.Equal(reason == "max_steps" ? 2 : line.GetProperty("steps").GetInt32(), line.GetProperty("steps").GetInt32());
            Assert.Equal(reason == "max_steps" ? 0.0 : 1.0, line.GetProperty("reward").GetDouble());
        }
        Assert.Contains(lines, l => l.GetProperty("stop_reason").GetString() == "max_steps");

    }

    [Fact]
    public async Task Episodes_KilledMidRun_ResumePlaysOnlyTheTasksWithoutAResult()
    {
        await using var model = await LocalLlmServer.StartAsync(request => Players.BinarySearch(request) with { Delay = TimeSpan.FromMilliseconds(60) });
        var jsonl = Path.Combine(_work.FullName, "killed.jsonl");
        using (var afs = AfsEnvironmentFixture.StartAfsProcess(Eval(model.BaseUrl, "--tasks", "1-40", "--concurrency", "2", "--out", jsonl)))
        {
            var drained = Task.WhenAll(afs.StandardOutput.ReadToEndAsync(), afs.StandardError.ReadToEndAsync());
            try
            {
                await Bounded.Until(() => Task.FromResult(File.Exists(jsonl) && File.ReadAllLines(jsonl).Length >= 4), TimeSpan.FromMinutes(2), "four episodes before the kill");
            }
            finally
            {
                afs.Kill(entireProcessTree: true);
            }
            await drained;
        }
        var kept = JsonLines(jsonl);
        Assert.InRange(kept.Count, 4, 39);
        var runId = kept[0].GetProperty("run").GetString()!;

        var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync("eval", "--resume", runId, "--store", Store, "--out", jsonl);
        Assert.True(exit == 0, error);
        Assert.Contains($"{kept.Count} done before", error);
        var lines = JsonLines(jsonl);
        // Each task once: the resume played only those without a result, with the stored settings (the model, the key variable).
        Assert.Equal(Enumerable.Range(1, 40), lines.Select(l => l.GetProperty("task_id").GetInt32()).Order());
        Assert.All(lines, l => Assert.Equal(1.0, l.GetProperty("reward").GetDouble()));
        Assert.Contains("mean score 1.000", output);
    }

    [Theory]
    [InlineData("--max-steps 3", "--max-steps applies to --episodes")]
    [InlineData("--system-prompt hi", "--system-prompt applies to --episodes")]
    [InlineData("--episodes --method evaluate", "it calls no --method")]
    [InlineData("--episodes --max-steps 0", "--max-steps 0: give 1 to 100000")]
    [InlineData("--episodes --llm-upstream http://127.0.0.1:9/v1", "--episodes: afs calls the model itself and the containers never do")]
    public async Task EpisodeFlags_Misused_AreRefusedBeforeAnythingRuns(string flags, string said)
    {
        var (exit, _, error) = await AfsEnvironmentFixture.AfsAsync(["eval", "--url", fixture.Url, "--tasks", "1-3", "--store", Store, .. flags.Split(' ')]);
        Assert.Equal(1, exit);
        Assert.Contains(said, error);
        Assert.False(File.Exists(Store));
    }

    [Fact]
    public async Task Episodes_WithoutTheModelsKey_SayWhichVariableToSet()
    {
        var variable = "AFS_EPISODES_UNSET_" + Guid.NewGuid().ToString("N")[..8].ToUpper(CultureInfo.InvariantCulture);
        var (exit, _, error) = await AfsEnvironmentFixture.AfsAsync("eval", "--url", fixture.Url, "--episodes", "--tasks", "1-3", "--base-url", "http://127.0.0.1:9/v1",
            "--model", "m", "--api-key-env", variable, "--store", Store);
        Assert.Equal(1, exit);
        Assert.Contains($"reads its API key from ${variable}, which is not set: export {variable}", error);
    }
}
