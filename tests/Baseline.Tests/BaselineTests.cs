using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Microsoft.Extensions.Logging;

namespace Affinetes.Baseline.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class BaselineModelTests
{
    [Theory]
    // Problems in the shape environments/python-arith generates, with the answer the documented rule gives.
    [InlineData("Dara has 82 coins. A friend gives Dara 45 more coins. Dara gives away 13 coins. How many coins does Dara have now?", 114)]
    [InlineData("Ada has 10 apples. Ada buys 3 boxes holding 30 apples each. How many apples does Ada have now?", 100)]
    [InlineData("Kofi has 1,200 beads. Kofi gives away 200 beads. How many beads does Kofi have now?", 1000)]
    // Not understood ("times as many", sharing): left out, so the answer is wrong for these problems.
    [InlineData("Lena has 20 cards. Lena ends up with 3 times as many cards as before. How many cards does Lena have now?", 20)]
    [InlineData("Ines has 40 shells. Ines shares the shells equally among 4 jars and keeps only one of them. How many?", 40)]
    public void Answer_FollowsTheDocumentedRule(string question, long expected)
    {
        var reply = BaselineModel.Answer(question);
        Assert.StartsWith(BaselineModel.Disclaimer, reply);
        Assert.EndsWith($"Answer: {expected}", reply);
    }

    [Fact]
    public void Answer_WithoutAQuantity_GivesNoNumber()
    {
        var reply = BaselineModel.Answer("Write a haiku about the sea.");
        Assert.DoesNotContain("Answer:", reply);
        Assert.DoesNotMatch(@"\d", reply.Replace(BaselineModel.Disclaimer, "", StringComparison.Ordinal));
    }
}

[Trait(Tiers.Name, Tiers.Host)]
public sealed class BaselineServerTests
{
    private static async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(HttpClient http, Uri url, string json)
    {
        using var response = await http.PostAsync(url, new StringContent(json, Encoding.UTF8, "application/json")).Within();
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    [Fact]
    public async Task ChatCompletion_AnswersAsTheBaseline_InOpenAIShape()
    {
        await using var server = await BaselineServer.StartAsync().Within();
        using var http = new HttpClient();
        var (status, body) = await PostAsync(http, new Uri(server.BaseUrl + "/chat/completions"), """
            {"model": "deepseek-ai/DeepSeek-V3", "temperature": 0, "messages": [
              {"role": "system", "content": "Solve it."},
              {"role": "user", "content": "Ada has 10 apples. A friend gives Ada 5 more apples. How many apples does Ada have now?"}]}
            """);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("affinetes-baseline", body.GetProperty("model").GetString());
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        var message = body.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.EndsWith("Answer: 15", message.GetProperty("content").GetString());
        Assert.True(body.GetProperty("usage").GetProperty("total_tokens").GetInt32() > 0);
        Assert.Equal(1, server.Completions);

        using var models = await http.GetFromJsonAsync<JsonDocument>(new Uri(server.BaseUrl + "/models")).Within();
        Assert.Equal("affinetes-baseline", models!.RootElement.GetProperty("data")[0].GetProperty("id").GetString());
    }

    [Theory]
    [InlineData("not json", "invalid_json")]
    [InlineData("""{"model": "m"}""", "invalid_messages")]
    [InlineData("""{"model": "m", "stream": true, "messages": [{"role": "user", "content": "1"}]}""", "stream_unsupported")]
    public async Task BadRequests_Get400_InOpenAIErrorShape(string json, string code)
    {
        await using var server = await BaselineServer.StartAsync().Within();
        using var http = new HttpClient();
        var (status, body) = await PostAsync(http, new Uri(server.BaseUrl + "/chat/completions"), json);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(code, body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task APortInUse_IsReported_WithTheAddress()
    {
        await using var first = await BaselineServer.StartAsync().Within();
        var logged = new List<string>();
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new ListProvider(logged)));
        var e = await Assert.ThrowsAsync<IOException>(() => BaselineServer.StartAsync(new BaselineServerOptions { Port = first.BaseUrl.Port, LoggerFactory = loggers }));
        Assert.Contains($"cannot listen on 127.0.0.1:{first.BaseUrl.Port}", e.Message);
        // The exception says it; nothing else is printed (afs then listens on another port and says so once).
        Assert.Empty(logged);
    }

    private sealed class ListProvider(List<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(lines, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(List<string> lines, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (lines)
                {
                    lines.Add($"{category} {logLevel}: {formatter(state, exception)}");
                }
            }
        }
    }

    /// <summary>
    /// The example environment, served by the real host and evaluated through the runner against the baseline: the
    /// offline first run in library form. Some tasks are right and some wrong, and every result says the baseline
    /// answered.
    /// </summary>
    [Fact]
    public async Task PythonArith_EvaluatedAgainstTheBaseline_ScoresSomeTasksButNotAll()
    {
        await using var baseline = await BaselineServer.StartAsync().Within();
        await using var host = HostProcess.Start(new Dictionary<string, string>
        {
            ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", "python_arith.py"),
            ["CHUTES_API_KEY"] = "offline",
        });
        await host.WaitReadyAsync();
        await using var env = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [$"http://127.0.0.1:{host.Port}"] }).Within();
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest
        {
            TaskIds = [.. Enumerable.Range(1, 60).Select(i => (long)i)],
            Kwargs = new Dictionary<string, object?> { ["model"] = BaselineModel.Name, ["base_url"] = baseline.BaseUrl.ToString(), ["timeout"] = 30 },
            Concurrency = 8,
        });
        var results = new List<TaskResult>();
        await Task.Run(async () =>
        {
            await foreach (var result in run.ResultsAsync())
            {
                results.Add(result);
            }
        }).Within(TimeSpan.FromSeconds(120), "60 tasks against the baseline");

        Assert.Equal(60, results.Count);
        Assert.All(results, r =>
        {
            Assert.True(r.Completed && r.Success, $"task {r.TaskId}: {r.Error} {r.Value}");
            Assert.Equal(BaselineModel.Name, r.Value!.Value.GetProperty("model").GetString());
            Assert.StartsWith(BaselineModel.Disclaimer, r.Value!.Value.GetProperty("response").GetString());
        });
        var right = results.Count(r => r.Score == 1.0);
        Assert.InRange(right, 1, 59);
        Assert.Equal(60, baseline.Completions);
    }

    /// <summary>
    /// The interactive example played by the baseline through the episode runner: offline, each episode runs to its
    /// end or to MaxSteps, every action is the baseline's reply, and the same tasks play the same way twice.
    /// </summary>
    [Fact]
    public async Task PythonGuess_PlayedByTheBaselineThroughTheEpisodeRunner_EndsEveryEpisode_TheSameWayTwice()
    {
        await using var baseline = await BaselineServer.StartAsync().Within();
        await using var host = HostProcess.Start(new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", "python_guess.py") });
        await host.WaitReadyAsync();
        await using var env = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [$"http://127.0.0.1:{host.Port}"] }).Within();
        var request = new EvaluationRequest
        {
            TaskIds = [.. Enumerable.Range(1, 10).Select(i => (long)i)],
            Concurrency = 5,
            Episodes = new EpisodeSettings { BaseUrl = baseline.BaseUrl.ToString(), Model = BaselineModel.Name, ApiKey = "offline", MaxSteps = 8 },
        };
        async Task<List<TaskResult>> PlayAsync()
        {
            var results = new List<TaskResult>();
            var run = await EvaluationRunner.Create(env).StartAsync(request);
            await Task.Run(async () =>
            {
                await foreach (var result in run.ResultsAsync())
                {
                    results.Add(result);
                }
            }).Within(TimeSpan.FromSeconds(120), "10 episodes against the baseline");
            return [.. results.OrderBy(r => r.TaskId)];
        }

        var first = await PlayAsync();
        Assert.Equal(10, first.Count);
        Assert.All(first, r =>
        {
            Assert.True(r.Completed, $"task {r.TaskId}: {r.Error}");
            var value = r.Value!.Value;
            Assert.Contains(value.GetProperty("stop_reason").GetString(), new[] { "done", "max_steps" });
            Assert.All(value.GetProperty("trajectory").EnumerateArray(), step => Assert.StartsWith(BaselineModel.Disclaimer, step.GetProperty("action").GetString()));
        });
        static string Play(TaskResult r) => string.Join("|", r.Value!.Value.GetProperty("trajectory").EnumerateArray()
            .Select(s => $"{s.GetProperty("action").GetString()}>{s.GetProperty("observation").GetString()}"));
        Assert.Equal(first.Select(Play), (await PlayAsync()).Select(Play));
    }
}
