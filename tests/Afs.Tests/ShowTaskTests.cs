using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary><c>afs show RUN --task N</c>: one task with its conversation (or its episode's steps), as text and as JSON.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ShowTaskTests
{
    [Fact]
    public async Task ShowTask_PrintsTheConversationTurnByTurn_WithTheResult_AndJsonCarriesTheTranscript()
    {
        await using var seeded = await SeededStore.CreateAsync();
        seeded.AddRun("run-a", 2, [SeededStore.Result(1, 1, transcript: SeededStore.Chat(1)), SeededStore.Result(2, 0)]);

        var (exit, output, error) = AfsCliTests.Run("show", "run-a", "--task", "1", "--store", seeded.Path);

        Assert.True(exit == 0, error);
        Assert.Contains("task 1 of run run-a: completed, score 1", output, StringComparison.Ordinal);
        Assert.Contains("LLM: 2 request(s)", output, StringComparison.Ordinal);
        var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var system = lines.IndexOf("[system]");
        var user = lines.IndexOf("[user]");
        var assistant = lines.IndexOf("[assistant]");
        Assert.True(system >= 0 && system < user && user < assistant, output);
        Assert.Equal("  You are a careful mathematician.", lines[system + 1]);
        Assert.Equal("  Answer on the last line.", lines[system + 2]); // newlines are real
        Assert.Equal("  Answer: 7", lines[assistant + 2]);
        Assert.Contains("── exchange 2: chat/completions · baseline-model · 200 · 100 ms · 11+2 tokens · streamed · 3 earlier message(s) resent", output, StringComparison.Ordinal);
        Assert.Single(lines, l => l == "  3 + 4 = 7"); // the first reply is not shown again as the second request's message
        Assert.Contains("[reasoning]", output, StringComparison.Ordinal);
        Assert.Contains("result:", output, StringComparison.Ordinal);

        var (jsonExit, json, _) = AfsCliTests.Run("show", "run-a", "--task", "1", "--store", seeded.Path, "--json");
        Assert.Equal(0, jsonExit);
        var task = JsonDocument.Parse(json).RootElement;
        Assert.Equal(1, task.GetProperty("task_id").GetInt32());
        var exchanges = task.GetProperty("transcript").GetProperty("exchanges");
        Assert.Equal(2, exchanges.GetArrayLength());
        Assert.Equal("user", exchanges[0].GetProperty("messages")[1].GetProperty("role").GetString());
        Assert.Equal("Yes.", exchanges[1].GetProperty("reply").GetString());
        Assert.Equal(2, task.GetProperty("llm_usage").GetProperty("requests").GetInt32());

        var (noTranscript, plain, _) = AfsCliTests.Run("show", "run-a", "--task", "2", "--store", seeded.Path);
        Assert.Equal(0, noTranscript);
        Assert.Contains("transcript: none", plain, StringComparison.Ordinal);
        var (missing, _, missingError) = AfsCliTests.Run("show", "run-a", "--task", "9", "--store", seeded.Path);
        Assert.Equal(1, missing);
        Assert.Contains("run run-a has no result for task 9", missingError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShowTask_AnEpisode_PrintsEachStepsActionObservationAndReward()
    {
        await using var seeded = await SeededStore.CreateAsync();
        seeded.AddRun("episodes", 1, [SeededStore.Result(1, 0.5, value: SeededStore.Episode(1))]);

        var (exit, output, error) = AfsCliTests.Run("show", "episodes", "--task", "1", "--store", seeded.Path);

        Assert.True(exit == 0, error);
        Assert.Contains("episode: 2 step(s), stopped: done", output, StringComparison.Ordinal);
        Assert.Contains("── step 1: reward 0.5, model 120 ms, 40+3 tokens", output, StringComparison.Ordinal);
        Assert.Contains("── step 2: reward 1, done", output, StringComparison.Ordinal);
        Assert.Contains("  go east", output, StringComparison.Ordinal);
        Assert.Contains("  Exits: east.", output, StringComparison.Ordinal);
    }
}
