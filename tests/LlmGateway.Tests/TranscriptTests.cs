using System.Net.Http.Json;

namespace Affinetes.LlmGateway.Tests;

/// <summary>Transcripts through a real gateway: what a task sent and got back, collected with its usage and then forgotten.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class TranscriptTests
{
    private static async Task<CollectedTasks> CollectAsync(GatewayUnderTest gateway, string environment, params string[] tasks)
    {
        using var response = await gateway.Admin.PostAsJsonAsync($"{GatewayRoutes.Usage}/{environment}{GatewayRoutes.CollectSuffix}",
            new TaskCollection { Tasks = tasks }, GatewayJson.Default.TaskCollection).Within(what: "collecting");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync(GatewayJson.Default.CollectedTasks))!;
    }

    private static async Task<HttpResponseMessage> ChatAsync(HttpClient client, string task, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/tasks/{task}/v1/chat/completions") { Content = Json(body) };
        var response = await client.SendAsync(request).Within(what: "a chat request");
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    [Fact]
    public async Task TaskExchanges_Recorded_WholeAndStreamed_CollectedWithUsage_ThenForgotten()
    {
        await using var gateway = await StartAsync(request => request.LastUserMessage == "stream please"
            ? LlmReply.Text("streamed words arrive") with { Reasoning = "let me think", Usage = (9, 3) }
            : LlmReply.Text("Answer: 4") with { Usage = (20, 4) });
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });
        using var client = gateway.Api(token);

        using (await ChatAsync(client, "7", """{"model":"local-test-model","messages":[{"role":"system","content":"Be careful."},{"role":"user","content":"2+2?"}]}"""))
        {
        }
        using (var streamed = await ChatAsync(client, "7", """{"model":"local-test-model","stream":true,"messages":[{"role":"system","content":"Be careful."},{"role":"user","content":"2+2?"},{"role":"assistant","content":"Answer: 4"},{"role":"user","content":"stream please"}]}"""))
        {
            Assert.Contains("arrive", await streamed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var record = (await CollectAsync(gateway, "arith", "7", "8")).Tasks.Single();
        Assert.Equal("7", record.Key);
        Assert.Equal((2L, 29L, 7L), (record.Value.Usage.Requests, record.Value.Usage.PromptTokens, record.Value.Usage.CompletionTokens));
        var (whole, stream) = (record.Value.Exchanges[0], record.Value.Exchanges[1]);
        Assert.Equal(("chat/completions", "local-test-model", 200, false), (whole.Endpoint, whole.Model, whole.Status, whole.Stream));
        Assert.Equal(["Be careful.", "2+2?"], whole.Messages.Select(m => m.Content));
        Assert.Equal(("Answer: 4", 20L, 4L), (whole.Reply, whole.PromptTokens, whole.CompletionTokens));
        Assert.True(whole.LatencyMs > 0);
        Assert.True(stream.Stream);
        Assert.Equal(2, stream.RepeatedMessages);
        Assert.Equal(["assistant", "user"], stream.Messages.Select(m => m.Role));
        Assert.Equal(("streamed words arrive", "let me think", "stop"), (stream.Reply, stream.Reasoning, stream.FinishReason));
        Assert.Equal(12L, stream.TotalTokens);
        Assert.Empty((await CollectAsync(gateway, "arith", "7")).Tasks); // forgotten
    }

    [Fact]
    public async Task RecordingOff_OnlyUsageIsKept_AndARefusedRequestIsInTheTranscriptWithItsReason()
    {
        await using var gateway = await StartAsync(_ => LlmReply.Text("ok"));
        var quiet = await gateway.RegisterAsync(new GatewayTenant { Name = "quiet", RecordExchanges = false });
        var strict = await gateway.RegisterAsync(new GatewayTenant { Name = "strict", AllowedModels = ["local-test-model"] });
        using var quietClient = gateway.Api(quiet);
        using var strictClient = gateway.Api(strict);

        using (await ChatAsync(quietClient, "1", ChatBody("secret prompt")))
        {
        }
        using (var refused = await ChatAsync(strictClient, "1", ChatBody("hi", model: "other-model")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        var quietRecord = (await CollectAsync(gateway, "quiet", "1")).Tasks["1"];
        Assert.Equal(1, quietRecord.Usage.Requests);
        Assert.Empty(quietRecord.Exchanges);
        var refusal = (await CollectAsync(gateway, "strict", "1")).Tasks["1"].Exchanges.Single();
        Assert.Equal(403, refusal.Status);
        Assert.StartsWith(GatewayErrorCodes.ModelNotAllowed + ":", refusal.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamError_BodyKept_TheKeyMaskedInItAndInTheReply()
    {
        await using var gateway = await StartAsync(request => request.LastUserMessage == "fail"
            ? LlmReply.Error(500, "upstream broke for " + request.Authorization)
            : LlmReply.Text("you sent " + request.Authorization));
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });
        using var client = gateway.Api(token);

        using (await ChatAsync(client, "3", ChatBody("hello")))
        {
        }
        using (await ChatAsync(client, "3", ChatBody("fail")))
        {
        }

        var exchanges = (await CollectAsync(gateway, "arith", "3")).Tasks["3"].Exchanges;
        var text = JsonSerializer.Serialize(exchanges, GatewayJson.Default.IReadOnlyListExchangeRecord);
        Assert.DoesNotContain(gateway.UpstreamKey, text, StringComparison.Ordinal);
        Assert.Contains("you sent Bearer ****", exchanges[0].Reply, StringComparison.Ordinal);
        Assert.Equal(500, exchanges[1].Status);
        Assert.Contains("upstream broke for Bearer ****", exchanges[1].Error, StringComparison.Ordinal);
    }
}
