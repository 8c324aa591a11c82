using System.Text;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Pooling;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>
/// What a result may be: the client asks the host not to send more than its limit and stops reading past it
/// (a host that ignores the ask), nesting as deep as Python writes is read, half surrogate pairs are repaired.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class ResultLimitsTests(HostProcessesFixture hosts) : IClassFixture<HostProcessesFixture>
{
    private static Task<IEnvironment> LoadAsync(string baseUrl, long maxResultBytes = ResultLimits.DefaultMaxBytes) => AffinetesClient.LoadEnvAsync(new EnvironmentOptions
    {
        Mode = EnvironmentMode.Url,
        BaseUrls = [baseUrl],
        MaxResultBytes = maxResultBytes,
    }).Within(what: "loading the environment");

    [Fact]
    public async Task ResultOverTheClientsLimit_TheHostRefusesIt_TheCallFailsAsTooLarge_AndTheHostServesOn()
    {
        await using var env = await LoadAsync($"http://127.0.0.1:{hosts.First.Port}", 64 * 1024);
        var error = await Assert.ThrowsAsync<ResultTooLargeException>(() => env.CallAsync("big", kwargs: new Dictionary<string, object?> { ["size"] = 200_000 }).Within());
        Assert.StartsWith("the result of big is 195.3 KiB (200023 bytes), over the caller's limit of 64 KiB; nothing of it was sent", error.Message);
        Assert.False(error.IsRetryable);
        var small = await env.CallAsync("big", kwargs: new Dictionary<string, object?> { ["size"] = 60_000 }).Within();
        Assert.Equal(60_000, small.GetProperty("text").GetString()!.Length);
    }

    [Fact]
    public async Task AHostThatIgnoresTheLimit_IsNotReadPastIt()
    {
        await using var host = await ScriptedHost.StartAsync("ignores-limits");
        await using var env = await LoadAsync(host.BaseUrl.ToString(), 64 * 1024);
        var huge = new string('y', 4 * 1024 * 1024);
        var error = await Assert.ThrowsAsync<ResultTooLargeException>(() => env.CallAsync("echo", kwargs: new Dictionary<string, object?> { ["x"] = huge }).Within());
        Assert.StartsWith("the result of echo is larger than the limit of 64 KiB", error.Message);
        Assert.Equal(1, host.Calls); // not tried again: the same call gives the same result
    }

    [Fact]
    public async Task ATaskWhoseResultIsTooLarge_FailsAsResultTooLarge_AndIsNotRetried()
    {
        await using var env = await LoadAsync($"http://127.0.0.1:{hosts.First.Port}", 16 * 1024);
        var run = await EvaluationRunner.Create(env).StartAsync(new EvaluationRequest
        {
            Method = "big",
            TaskIds = [1],
            Kwargs = new Dictionary<string, object?> { ["size"] = 100_000 },
            Retries = 3,
        }).Within();
        var results = new List<TaskResult>();
        await foreach (var result in run.ResultsAsync().WithCancellation(CancellationToken.None))
        {
            results.Add(result);
        }
        var failed = Assert.Single(results);
        Assert.Equal(TaskErrorKind.ResultTooLarge, failed.ErrorKind);
        Assert.Equal("result_too_large", TaskErrorKinds.Name(failed.ErrorKind));
        Assert.Equal(1, failed.Attempts);
    }

    [Fact]
    public async Task DeeplyNestedResults_AsDeepAsPythonWrites_AreRead()
    {
        await using var env = await LoadAsync($"http://127.0.0.1:{hosts.First.Port}");
        var result = await env.CallAsync("deep", kwargs: new Dictionary<string, object?> { ["depth"] = 900 }).Within();
        var depth = 0;
        for (var value = result.GetProperty("nested"); value.GetArrayLength() > 0; value = value[0])
        {
            depth++;
        }
        Assert.Equal(900, depth);
    }

    [Theory]
    [InlineData("\"a\\ud800b\"", "\"a\\ufffdb\"")]
    [InlineData("\"\\udc00\"", "\"\\ufffd\"")]
    [InlineData("\"end \\uD83D\"", "\"end \\ufffd\"")]
    [InlineData("\"two highs \\ud83d\\ud83d\\ude00\"", "\"two highs \\ufffd\\ud83d\\ude00\"")]
    [InlineData("\"a pair \\ud83d\\ude00 stays\"", "\"a pair \\ud83d\\ude00 stays\"")]
    [InlineData("\"an escaped backslash \\\\ud800 is text\"", "\"an escaped backslash \\\\ud800 is text\"")]
    [InlineData("{\"k\\ud800\":[1,\"\\\"\\udfff\"]}", "{\"k\\ufffd\":[1,\"\\\"\\ufffd\"]}")]
    [Trait(Tiers.Name, Tiers.Unit)]
    public void LoneSurrogates_BecomeTheReplacementCharacter_PairsAndTextStay(string json, string repaired)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.Equal(repaired, Encoding.UTF8.GetString(AnswerReader.RepairLoneSurrogates(bytes)));
        using var document = JsonDocument.Parse(repaired);
        Assert.NotNull(document.RootElement.GetRawText()); // and it reads as text now
        if (json == repaired)
        {
            Assert.Same(bytes, AnswerReader.RepairLoneSurrogates(bytes));
        }
    }
}
