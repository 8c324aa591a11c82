using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

/// <summary>
/// environments/python-guess, the interactive example, over the wire as any client sees it: the original's
/// OpenEnvResponse shapes, its rules, and <c>evaluate</c> playing a whole episode against a model.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed partial class PythonGuessTests : IAsyncLifetime
{
    private HostProcess _host = null!;

    public async Task InitializeAsync()
    {
        _host = HostProcess.Start(new Dictionary<string, string>
        {
            ["AFFINETES_ENV_FILE"] = HostUnderTest.EnvPath("python_guess_env.py"),
            ["CHUTES_API_KEY"] = "sk-guess",
        });
        await _host.WaitReadyAsync();
    }

    public Task DisposeAsync() => _host.DisposeAsync().AsTask();

    private async Task<JsonElement> ResultAsync(string method, string json)
    {
        using var response = await _host.Client.PostAsync("/" + method, new StringContent(json, System.Text.Encoding.UTF8, "application/json")).Within(what: method);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{method} answered {(int)response.StatusCode}: {body}");
        return body.GetProperty("result");
    }

    private Task<JsonElement> StepAsync(string episode, string action) =>
        ResultAsync("step", JsonSerializer.Serialize(new Dictionary<string, string> { ["action"] = action, ["episode_id"] = episode }));

    [Fact]
    public async Task Reset_AnswersTheOriginalsShape_AndTheSameTaskAndSeedGiveTheSameGame()
    {
        var reset = await ResultAsync("reset", """{"task_id": 7, "seed": null}""");
        Assert.Equal(["observation", "reward", "done", "truncated", "episode_id", "info"], reset.EnumerateObject().Select(p => p.Name));
        Assert.Equal((0.0, false, false), (reset.GetProperty("reward").GetDouble(), reset.GetProperty("done").GetBoolean(), reset.GetProperty("truncated").GetBoolean()));
        Assert.Equal((7, 7, 7), (reset.GetProperty("info").GetProperty("task_id").GetInt32(), reset.GetProperty("info").GetProperty("seed").GetInt32(),
            reset.GetProperty("info").GetProperty("guesses_left").GetInt32()));

        // Two episodes of (7, 7) answer the same hints to the same guesses.
        var again = await ResultAsync("reset", """{"task_id": 7, "seed": 7}""");
        foreach (var guess in new[] { "50", "25", "75" })
        {
            Assert.Equal((await StepAsync(reset.GetProperty("episode_id").GetString()!, guess)).GetProperty("observation").GetString(),
                (await StepAsync(again.GetProperty("episode_id").GetString()!, guess)).GetProperty("observation").GetString());
        }
    }

    [Fact]
    public async Task BadActions_CostNoGuess_AndAnUnknownEpisodeIsDoneAndTruncated_AsTheOriginalAnswers()
    {
        var episode = (await ResultAsync("reset", """{"task_id": 1}""")).GetProperty("episode_id").GetString()!;
        var parse = await StepAsync(episode, "no idea");
        Assert.Equal(("action_parse", 7, false), (parse.GetProperty("info").GetProperty("error").GetProperty("type").GetString(),
            parse.GetProperty("info").GetProperty("guesses_left").GetInt32(), parse.GetProperty("done").GetBoolean()));
        var range = await StepAsync(episode, "I say 500");
        Assert.Equal(("out_of_range", 7), (range.GetProperty("info").GetProperty("error").GetProperty("type").GetString(), range.GetProperty("info").GetProperty("guesses_left").GetInt32()));
        var counted = await StepAsync(episode, "between 1 and 100 I pick 40");
        Assert.Equal(6, counted.GetProperty("info").GetProperty("guesses_left").GetInt32()); // the last integer is the guess

        var stop = await ResultAsync("stop", JsonSerializer.Serialize(new { episode_id = episode }));
        Assert.True(stop.GetProperty("stopped").GetBoolean());
        Assert.False((await ResultAsync("stop", JsonSerializer.Serialize(new { episode_id = episode }))).GetProperty("stopped").GetBoolean());
        var gone = await StepAsync(episode, "50");
        Assert.Equal((true, true, "episode_not_found"), (gone.GetProperty("done").GetBoolean(), gone.GetProperty("truncated").GetBoolean(),
            gone.GetProperty("info").GetProperty("error").GetProperty("type").GetString()));
    }

    [Fact]
    public async Task SevenWrongGuesses_EndTheEpisodeWithoutReward_AndAfterItStepsAreRefused()
    {
        var reset = await ResultAsync("reset", """{"task_id": 2}""");
        var episode = reset.GetProperty("episode_id").GetString()!;
        JsonElement last = default;
        var guesses = 0;
        for (var guess = 1; guesses < 7; guess++)
        {
            last = await StepAsync(episode, guess.ToString(CultureInfo.InvariantCulture));
            guesses++;
            if (last.GetProperty("done").GetBoolean())
            {
                break;
            }
        }
        Assert.True(last.GetProperty("done").GetBoolean());
        var state = await ResultAsync("state", JsonSerializer.Serialize(new { episode_id = episode }));
        Assert.True(state.GetProperty("done").GetBoolean());
        var over = await StepAsync(episode, "50");
        Assert.Equal("episode_done", over.GetProperty("info").GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Evaluate_PlaysAWholeEpisodeAgainstTheModel_AndStopsIt()
    {
        await using var model = await LocalLlmServer.StartAsync(request =>
        {
            int low = 1, high = 100;
            foreach (var message in request.Messages.Where(m => m.Role == "user"))
            {
                var hint = Hint().Match(message.Content);
                if (hint.Success)
                {
                    var guess = int.Parse(hint.Groups[1].Value, CultureInfo.InvariantCulture);
                    (low, high) = hint.Groups[2].Value == "higher" ? (guess + 1, high) : (low, guess - 1);
                }
            }
            return LlmReply.Text($"My guess: {(low + high) / 2}");
        });
        var result = await ResultAsync("evaluate", JsonSerializer.Serialize(new { task_id = 9, model = "m", base_url = model.BaseUrl.ToString() }));
        Assert.Equal((1.0, true, 9), (result.GetProperty("score").GetDouble(), result.GetProperty("success").GetBoolean(), result.GetProperty("task_id").GetInt32()));
        Assert.InRange(result.GetProperty("guesses").GetInt32(), 1, 7);
        Assert.Equal("Bearer sk-guess", model.Requests[0].Authorization);
        Assert.Equal(0, (await ResultAsync("stats", "{}")).GetProperty("open").GetInt32());
    }

    [GeneratedRegex(@"^(\d+) is wrong: the secret is (higher|lower)")]
    private static partial Regex Hint();
}
