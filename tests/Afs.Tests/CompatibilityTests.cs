using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Affinetes.Testing;
using Docker.DotNet;

namespace Affinetes.Afs.Tests;

/// <summary>
/// The environments of the compatibility tier (<c>Compat/</c>), built once with <c>afs build</c>. They are ours,
/// written to the shapes of the original's real environments (which need packages Debian does not ship):
/// <list type="bullet">
/// <item><c>logic-openenv</c> stands for primeintellect/lgc-v2 (also trace and openspiel): <c>affinetes.core</c>
/// imports, <c>request_logger</c>, a sibling module imported by plain name, <c>Actor = LogicActor</c>, optional
/// parameters called with null, OpenEnv reset/step/state/stop, keyword-only parameters with <c>**kwargs</c>.</item>
/// <item><c>guess-game</c> stands for game/number_guess: a multi-turn OpenEnv game played by the non-streaming LLM
/// helper, <c>content, usage = await llm_chat(...)</c>.</item>
/// <item>http_based (agentgym: env.py with its own FastAPI <c>app</c> and CMD) is item 5 of issue 15, built with the
/// sidecar runtime: its environment goes in <c>Compat/http-app</c> and its test in this class.</item>
/// </list>
/// </summary>
public sealed class CompatibilityFixture : IAsyncLifetime
{
    public DockerClient Docker { get; } = DockerEngine.CreateClient();

    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];

    public string LogicImage => $"affinetes-test/compat-logic:{_suffix}";

    public string GuessImage => $"affinetes-test/compat-guess:{_suffix}";

    public string Prefix => $"compat-{_suffix}-";

    public static string Source(string name) => Path.Combine(AppContext.BaseDirectory, "Compat", name);

    public async Task InitializeAsync()
    {
        await DockerEngine.RequireImageAsync(Docker, DockerEngine.PythonBaseImage);
        foreach (var (dir, tag) in new[] { ("logic-openenv", LogicImage), ("guess-game", GuessImage) })
        {
            var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync("build", Source(dir), "--tag", tag);
            Assert.True(exit == 0, $"afs build {dir}: exit {exit}\n{output}\n{error}");
        }
    }

    public async Task DisposeAsync()
    {
        await DockerEngine.RemoveImageQuietlyAsync(Docker, LogicImage);
        await DockerEngine.RemoveImageQuietlyAsync(Docker, GuessImage);
        Docker.Dispose();
    }
}

/// <summary>
/// Environments written for the original, built with <c>afs build</c> and called as the original's clients call them;
/// each assertion is the answer the original's server gives to the same request (or a documented difference).
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Trait("Suite", "Compatibility")]
public sealed class CompatibilityTests(CompatibilityFixture fixture) : IClassFixture<CompatibilityFixture>
{
    private static Task<(int Exit, string Output, string Error)> AfsAsync(params string[] args) => AfsEnvironmentFixture.AfsAsync(args);

    /// <summary>An environment started with <c>afs run</c>, stopped with <c>afs stop</c> when disposed.</summary>
    private sealed class Running(string name, HttpClient http) : IAsyncDisposable
    {
        public string Name => name;
        public HttpClient Http => http;

        public async ValueTask DisposeAsync()
        {
            http.Dispose();
            await AfsAsync("stop", name);
        }
    }

    /// <summary>Starts the image with <c>afs run</c> (host network, so it reaches the local LLM server).</summary>
    private async Task<Running> RunAsync(string image, string purpose)
    {
        var name = fixture.Prefix + purpose;
        var (exit, output, error) = await AfsAsync("run", image, "--name", name, "--host-network", "--env", "CHUTES_API_KEY=sk-compat", "--json");
        Assert.True(exit == 0, $"afs run: {error}");
        var address = JsonDocument.Parse(output).RootElement.GetProperty("replicas")[0].GetProperty("address").GetString();
        return new Running(name, new HttpClient { BaseAddress = new Uri($"http://{address}"), Timeout = TimeSpan.FromSeconds(60) });
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(HttpClient http, string path, string json)
    {
        using var response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json")).Within(TimeSpan.FromSeconds(60), $"POST {path}");
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, doc.RootElement.Clone());
    }

    /// <summary>The logic task's answer for a prompt "What is A + B? ...".</summary>
    private static LlmReply Solve(ChatRequest request)
    {
        var m = Regex.Match(request.LastUserMessage, @"What is (\d+) \+ (\d+)\?");
        return m.Success ? LlmReply.Text($"The sum is {int.Parse(m.Groups[1].Value) + int.Parse(m.Groups[2].Value)}") with { Reasoning = "add them" } : LlmReply.Text("no idea");
    }

    [Fact]
    public async Task LogicEnvironment_EvaluateWithNullOptionals_UsesTheHelperModules()
    {
        await using var llm = await LocalLlmServer.StartAsync(Solve);
        await using var env = await RunAsync(fixture.LogicImage, "evaluate");
        var http = env.Http;
        {
            // The validator's call: optional parameters sent as null, as the original's clients do.
            var (status, body) = await PostAsync(http, "/call", $$$"""{"method":"evaluate","args":[],"kwargs":{"model":"m","base_url":"{{{llm.BaseUrl}}}","task_id":3,"seed":null,"temperature":null,"api_key":null,"timeout":600}}""");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("success", body.GetProperty("status").GetString());
            var result = body.GetProperty("result");
            Assert.Equal(1.0, result.GetProperty("score").GetDouble());
            Assert.Equal("int", result.GetProperty("extra").GetProperty("task_id_type").GetString());
            Assert.Equal("add them", result.GetProperty("extra").GetProperty("reasoning").GetString());
            Assert.True(result.GetProperty("extra").GetProperty("usage").GetProperty("total_tokens").GetInt32() > 0);
            var request = Assert.Single(llm.Requests);
            Assert.Equal("Bearer sk-compat", request.Authorization);
            Assert.True(JsonDocument.Parse(request.Body).RootElement.GetProperty("stream").GetBoolean());

            // "42" for an int parameter reaches the method as it came (the original checks no annotation).
            (status, body) = await PostAsync(http, "/evaluate", $$$"""{"model":"m","base_url":"{{{llm.BaseUrl}}}","task_id":"3"}""");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("str", body.GetProperty("result").GetProperty("extra").GetProperty("task_id_type").GetString());

            // request_logger writes its lines to the container log.
            // (The engine collects a container's output a moment after it is written: read until the line is there.)
            const string Line = @"\[info     \] request_complete\s+elapsed_ms=\d+ req_ctx=task_id:3\|type:logic\|miner:127\.0\.0\.1:\d+\|model:m score=1\.0";
            var logs = "";
            await Bounded.Until(async () =>
            {
                var (logsExit, output, _) = await AfsAsync("logs", env.Name);
                Assert.Equal(0, logsExit);
                logs = output;
                return System.Text.RegularExpressions.Regex.IsMatch(logs, Line);
            }, TimeSpan.FromSeconds(15), "request_logger's line in the container log");
            Assert.Matches(Line, logs);
        }
    }

    [Fact]
    public async Task LogicEnvironment_TimeoutKwarg_GivesUpWithTheOriginalsFailedEnvelope()
    {
        await using var llm = await LocalLlmServer.StartAsync(_ => LlmReply.Text("slow") with { Delay = TimeSpan.FromSeconds(30) });
        await using var env = await RunAsync(fixture.LogicImage, "timeout");
        var http = env.Http;
        {
            // timeout -9.5 means timeout + 10 s = 0.5 s; the environment's LLM call would take 30 s.
            var (status, body) = await PostAsync(http, "/call", $$$"""{"method":"evaluate","kwargs":{"model":"m","base_url":"{{{llm.BaseUrl}}}","task_id":1,"timeout":-9.5}}""");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("""{"status":"failed","result":{"error":"Task execution exceeded timeout of -9.5s (+10s grace)"},"error":null}""", body.GetRawText());
            (status, body) = await PostAsync(http, "/call", """{"method":"evaluate","kwargs":{"timeout":"soon"}}""");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("Invalid timeout; expected a number of seconds.", body.GetProperty("result").GetProperty("error").GetString());
        }
    }

    [Fact]
    public async Task LogicEnvironment_OpenEnvFlow_KeywordOnly_AndPrivateNames()
    {
        await using var env = await RunAsync(fixture.LogicImage, "openenv");
        var http = env.Http;
        {
            var (_, reset) = await PostAsync(http, "/reset", """{"task_id":5,"seed":null}""");
            var observation = reset.GetProperty("result");
            Assert.Equal(["observation", "reward", "done", "truncated", "episode_id", "info"], observation.EnumerateObject().Select(p => p.Name).ToArray());
            var episode = observation.GetProperty("episode_id").GetString();
            var sum = Regex.Match(observation.GetProperty("observation").GetString()!, @"(\d+) \+ (\d+)");
            var answer = int.Parse(sum.Groups[1].Value) + int.Parse(sum.Groups[2].Value);

            // A number for a str parameter passes through as a number, as in the original...
            var (_, step) = await PostAsync(http, "/call", $$$"""{"method":"step","kwargs":{"action":{{{answer}}},"episode_id":"{{{episode}}}"}}""");
            Assert.Equal(1.0, step.GetProperty("result").GetProperty("reward").GetDouble());
            Assert.Equal("int", step.GetProperty("result").GetProperty("info").GetProperty("action_type").GetString());
            // ...while afs call --arg reads the value by the parameter's type: action=500 is the string "500".
            var (_, reset2) = await PostAsync(http, "/reset", """{"task_id":6}""");
            var episode2 = reset2.GetProperty("result").GetProperty("episode_id").GetString();
            var (exit, output, error) = await AfsAsync("call", env.Name, "step", "--arg", "action=500", "--arg", $"episode_id={episode2}");
            Assert.True(exit == 0, error);
            Assert.Equal("str", JsonDocument.Parse(output).RootElement.GetProperty("info").GetProperty("action_type").GetString());

            var (_, state) = await PostAsync(http, "/state", $$$"""{"episode_id":"{{{episode}}}"}""");
            Assert.True(state.GetProperty("result").GetProperty("done").GetBoolean());
            var (_, stopped) = await PostAsync(http, "/stop", $$$"""{"episode_id":"{{{episode}}}"}""");
            Assert.Equal("""{"status":"ok","stopped":true,"episode_id":"{{episode}}"}""".Replace("{{episode}}", episode), stopped.GetProperty("result").GetRawText());

            var (_, configured) = await PostAsync(http, "/configure", """{"difficulty":3,"colour":"red"}""");
            Assert.Equal("""{"difficulty":3,"options":{"colour":"red"}}""", configured.GetProperty("result").GetRawText());
            var (positional, _) = await PostAsync(http, "/call", """{"method":"configure","args":[3]}""");
            Assert.Equal(HttpStatusCode.BadRequest, positional); // keyword-only: the original answers 500 with a TypeError

            // Deliberate difference: the original runs a private method named in /call; we answer 404.
            var (privateStatus, privateBody) = await PostAsync(http, "/call", """{"method":"_prompt"}""");
            Assert.Equal(HttpStatusCode.NotFound, privateStatus);
            Assert.StartsWith("Method not found: _prompt", privateBody.GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task GuessGame_PlaysAMultiTurnEpisode_WithTheNonStreamingHelper()
    {
        // The model plays by bisection, reading the game's hints from the conversation.
        await using var llm = await LocalLlmServer.StartAsync(request =>
        {
            int low = 1, high = 1000, guess = 500;
            foreach (var (message, next) in request.Messages.Zip(request.Messages.Skip(1)))
            {
                if (message.Role == "assistant" && int.TryParse(message.Content, out guess))
                {
                    (low, high) = next.Content.Contains("higher") ? (guess + 1, high) : next.Content.Contains("lower") ? (low, guess - 1) : (low, high);
                }
            }
            return LlmReply.Text(((low + high) / 2).ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
        await using var env = await RunAsync(fixture.GuessImage, "guess");
        var http = env.Http;
        {
            var (status, body) = await PostAsync(http, "/call", $$$"""{"method":"evaluate","kwargs":{"model":"m","base_url":"{{{llm.BaseUrl}}}","task_id":11,"seed":null,"api_key":null}}""");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(1.0, body.GetProperty("result").GetProperty("score").GetDouble());
            Assert.InRange(llm.Requests.Count, 2, 10);
            Assert.All(llm.Requests, r => Assert.False(JsonDocument.Parse(r.Body).RootElement.GetProperty("stream").GetBoolean()));
        }
    }
}
