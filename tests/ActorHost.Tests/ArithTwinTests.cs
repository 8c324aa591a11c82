using System.Net;
using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

/// <summary>
/// csharp-arith against python-arith, both served in-process: the same problems for the same (task_id, seed), and
/// evaluate through the real OpenAI SDK against a local OpenAI-compatible server giving the same scores and fields.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class ArithTwinTests : IAsyncLifetime
{
    private readonly DirectoryInfo _cache = Directory.CreateTempSubdirectory("affinetes-arith-cache-");
    private HostProcess _csharp = null!;
    private HostProcess _python = null!;

    public async Task InitializeAsync()
    {
        // Separate processes, as in containers: each actor reads CHUTES_API_KEY from its own environment.
        _csharp = HostProcess.Start(new Dictionary<string, string>
        {
            ["AFFINETES_ENV_FILE"] = HostUnderTest.EnvPath("csharp/csharp-arith/Actor.cs"),
            ["AFFINETES_CACHE_DIR"] = _cache.FullName,
            ["CHUTES_API_KEY"] = "sk-twin",
        });
        _python = HostProcess.Start(new Dictionary<string, string>
        {
            ["AFFINETES_ENV_FILE"] = HostUnderTest.EnvPath("python_arith_env.py"),
            ["CHUTES_API_KEY"] = "sk-twin",
        });
        await Task.WhenAll(_csharp.WaitReadyAsync(HostUnderTest.StartLimit), _python.WaitReadyAsync());
    }

    public async Task DisposeAsync()
    {
        await _csharp.DisposeAsync();
        await _python.DisposeAsync();
        _cache.Delete(recursive: true);
    }

    private static async Task<JsonElement> ResultAsync(HostProcess host, string method, string json)
    {
        using var response = await host.Client.PostAsync("/" + method, new StringContent(json, System.Text.Encoding.UTF8, "application/json")).Within(what: method);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{method} answered {(int)response.StatusCode}: {body}");
        return body.GetProperty("result");
    }

    [Fact]
    public async Task Generate_GivesTheSameProblemsAndAnswers()
    {
        foreach (var seed in new[] { 0, 1, 42, -7 })
        {
            for (var task = 0; task < 150; task++)
            {
                var json = $$"""{"task_id":{{task}},"seed":{{seed}}}""";
                Assert.Equal((await ResultAsync(_python, "generate", json)).GetRawText(), (await ResultAsync(_csharp, "generate", json)).GetRawText());
            }
        }
    }

    [Fact]
    public async Task Evaluate_ThroughTheOpenAiSdk_ScoresTheReply_AndAgreesWithPythonArith()
    {
        var answers = new Dictionary<string, string>();
        await using var llm = await LocalLlmServer.StartAsync(request =>
            LlmReply.Text(answers.TryGetValue(request.LastUserMessage, out var reply) ? reply : "I don't know"));
        var cases = new List<(int Task, string Reply)>();
        for (var task = 0; task < 12; task++)
        {
            var problem = await ResultAsync(_python, "generate", $$"""{"task_id":{{task}}}""");
            var expected = problem.GetProperty("expected").GetInt64();
            var reply = (task % 4) switch
            {
                0 => $"Let me work it out.\nAnswer: {expected}",
                1 => $"<think>maybe {expected + 1}</think> \\boxed{{{expected:N0}}}",
                2 => $"Answer: {expected + 3}",
                _ => "I cannot say.",
            };
            answers[problem.GetProperty("prompt").GetString()!] = reply;
            cases.Add((task, reply));
        }

        foreach (var (task, _) in cases)
        {
            var json = $$"""{"task_id":{{task}},"model":"m","base_url":"{{llm.BaseUrl}}","timeout":10}""";
            var fromCSharp = await ResultAsync(_csharp, "evaluate", json);
            var fromPython = await ResultAsync(_python, "evaluate", json);
            var expectedScore = task % 4 is 0 or 1 ? 1.0 : 0.0;
            Assert.Equal(expectedScore, fromCSharp.GetProperty("score").GetDouble());
            Assert.Equal(
                fromPython.EnumerateObject().Select(p => p.Name),
                fromCSharp.EnumerateObject().Select(p => p.Name)); // the same fields, in the same order
            foreach (var field in new[] { "task_id", "seed", "score", "success", "model", "prompt", "expected", "answer", "response", "error" })
            {
                Assert.Equal(
                    fromPython.TryGetProperty(field, out var p) ? p.GetRawText() : "(absent)",
                    fromCSharp.TryGetProperty(field, out var c) ? c.GetRawText() : "(absent)");
            }
        }
        var fromSdk = llm.Requests.Where((_, i) => i % 2 == 0).ToList(); // C# asked first for each task
        Assert.All(fromSdk, r => Assert.Equal("Bearer sk-twin", r.Authorization));
        Assert.All(fromSdk, r => Assert.Equal("system", r.Messages[0].Role));
        Assert.Contains("\"temperature\":0", fromSdk[0].Body.Replace(" ", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Evaluate_LlmHttpError_IsAZeroScoreWithTheSameErrorText()
    {
        await using var llm = await LocalLlmServer.StartAsync(_ => LlmReply.Error(503, "model overloaded"));
        var json = $$"""{"task_id":3,"model":"m","base_url":"{{llm.BaseUrl}}","timeout":10}""";
        var fromCSharp = await ResultAsync(_csharp, "evaluate", json);
        var fromPython = await ResultAsync(_python, "evaluate", json);
        Assert.Equal("HTTP 503 from the LLM endpoint: model overloaded", fromCSharp.GetProperty("error").GetString());
        Assert.Equal(fromPython.GetProperty("error").GetString(), fromCSharp.GetProperty("error").GetString());
        Assert.Equal(0.0, fromCSharp.GetProperty("score").GetDouble());
        Assert.Equal(2, llm.Requests.Count); // no retries: one request from each
    }
}
