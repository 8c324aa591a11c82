using System.ClientModel;
using OpenAI.Chat;

namespace Affinetes.LlmGateway.Tests;

[Trait(Tiers.Name, Tiers.Host)]
public sealed class ProxyTests
{
    [Fact]
    public async Task OpenAiSdk_ChatThroughGateway_UpstreamSeesRealKeyNotTheEnvironmentToken()
    {
        await using var gateway = await StartAsync(request => LlmReply.Text($"you asked: {request.LastUserMessage}"));
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });

        var completion = (await gateway.OpenAi(token).CompleteChatAsync([SdkMessage.CreateUserMessage("What is 2+2?")]).Within()).Value;

        Assert.Equal("you asked: What is 2+2?", completion.Content[0].Text);
        var seen = Assert.Single(gateway.Upstream.Requests);
        Assert.Equal("Bearer " + gateway.UpstreamKey, seen.Authorization);
        Assert.DoesNotContain(token, seen.Body);
    }

    [Fact]
    public async Task UnknownOrMissingToken_Returns401InOpenAiShape_AndNothingReachesUpstream()
    {
        await using var gateway = await StartAsync();
        await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });

        foreach (var token in new[] { "afgw-not-a-token-the-gateway-issued", null })
        {
            using var client = gateway.Api(token);
            using var response = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
            Assert.Equal(GatewayErrorCodes.InvalidApiKey, error.GetProperty("code").GetString());
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        }
        var sdkError = await Assert.ThrowsAsync<ClientResultException>(() => gateway.OpenAi("afgw-wrong-token-wrong-token-wrong").CompleteChatAsync([SdkMessage.CreateUserMessage("hi")]).Within());
        Assert.Equal(401, sdkError.Status);
        Assert.Empty(gateway.Upstream.Requests);
    }

    [Fact]
    public async Task UpstreamKey_NeverReachesTheEnvironment_NotInErrorBodiesHeadersOrLogs()
    {
        // An upstream that echoes the key it was sent: in its error message and a header, or in a successful answer.
        await using var gateway = await StartAsync(request => request.LastUserMessage == "echo"
            ? LlmReply.Text($"you sent {request.Authorization} to me")
            : LlmReply.Error(401, $"Incorrect API key provided: {request.Authorization}", "invalid_request_error", "invalid_api_key")
                with { Headers = new Dictionary<string, string> { ["X-Echo"] = $"got {request.Authorization}" } });
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });
        using var client = gateway.Api(token);

        using var response = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Incorrect API key provided: Bearer ****", body); // the upstream's message, the key masked
        Assert.DoesNotContain(gateway.UpstreamKey, body);
        Assert.DoesNotContain(response.Headers.Concat(response.Content.Headers), h => h.Value.Any(v => v.Contains(gateway.UpstreamKey, StringComparison.Ordinal)));
        var sdkError = await Assert.ThrowsAsync<ClientResultException>(() => gateway.OpenAi(token).CompleteChatAsync([SdkMessage.CreateUserMessage("hi")]).Within());
        Assert.DoesNotContain(gateway.UpstreamKey, sdkError.Message);
        var echoed = (await gateway.OpenAi(token).CompleteChatAsync([SdkMessage.CreateUserMessage("echo")]).Within()).Value.Content[0].Text;
        Assert.Equal($"you sent Bearer {new string('*', gateway.UpstreamKey.Length)} to me", echoed);
        using var streamed = await client.PostAsync("/v1/chat/completions", Json(ChatBody("echo", extra: ""","stream":true"""))).Within();
        var streamedBody = await streamed.Content.ReadAsStringAsync();
        Assert.Contains("\"content\":\" to\"", streamedBody);
        Assert.DoesNotContain(gateway.UpstreamKey, streamedBody);
        Assert.NotEmpty(gateway.Logs.Lines);
        Assert.DoesNotContain(gateway.UpstreamKey, gateway.Logs.All);
        Assert.DoesNotContain(token, gateway.Logs.All);
    }

    [Fact]
    public async Task Model_OutsideTheAllowList_Returns403_AndAnAllowedOnePasses()
    {
        await using var gateway = await StartAsync();
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith", AllowedModels = ["allowed-model"] });
        using var client = gateway.Api(token);

        using var refused = await client.PostAsync("/v1/chat/completions", Json(ChatBody(model: "expensive-model"))).Within();
        using var refusedGet = await client.GetAsync("/v1/models/expensive-model").Within();
        using var allowed = await client.PostAsync("/v1/chat/completions", Json(ChatBody(model: "allowed-model"))).Within();

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal(GatewayErrorCodes.ModelNotAllowed, error.GetProperty("code").GetString());
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Contains("expensive-model", error.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, refusedGet.StatusCode);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal(["allowed-model"], gateway.Upstream.Requests.Select(r => r.Model));
        Assert.Equal(2, (await gateway.UsageAsync("arith")).Rejected[GatewayErrorCodes.ModelNotAllowed]);
    }

    [Fact]
    public async Task MaxTokens_AboveTheLimit_Returns400_AndARequestWithoutOneIsSentWithTheLimit()
    {
        await using var gateway = await StartAsync();
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith", MaxTokensPerRequest = 100 });
        using var client = gateway.Api(token);

        using var over = await client.PostAsync("/v1/chat/completions", Json(ChatBody(extra: ""","max_tokens":500"""))).Within();
        var sdkOver = await Assert.ThrowsAsync<ClientResultException>(() =>
            gateway.OpenAi(token).CompleteChatAsync([SdkMessage.CreateUserMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 101 }).Within());
        using var within = await client.PostAsync("/v1/chat/completions", Json(ChatBody(extra: ""","max_tokens":100"""))).Within();
        using var without = await client.PostAsync("/v1/chat/completions", Json(ChatBody(extra: ""","temperature":0.5"""))).Within();

        Assert.Equal(HttpStatusCode.BadRequest, over.StatusCode);
        var error = JsonDocument.Parse(await over.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal(GatewayErrorCodes.MaxTokensExceeded, error.GetProperty("code").GetString());
        Assert.Equal("max_tokens", error.GetProperty("param").GetString());
        Assert.Equal(400, sdkOver.Status);
        Assert.Contains("max_completion_tokens", sdkOver.Message);
        Assert.Equal(HttpStatusCode.OK, within.StatusCode);
        Assert.Equal(HttpStatusCode.OK, without.StatusCode);
        var sent = gateway.Upstream.Requests.Select(r => JsonDocument.Parse(r.Body).RootElement).ToList();
        Assert.Equal(2, sent.Count);
        Assert.Equal(100, sent[1].GetProperty("max_tokens").GetInt32());
        Assert.Equal(0.5, sent[1].GetProperty("temperature").GetDouble());
    }

    [Fact]
    public async Task PathsTheGatewayDoesNotForward_Return404_WithoutReachingUpstream()
    {
        await using var gateway = await StartAsync();
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });
        using var client = gateway.Api(token);

        using var files = await client.GetAsync("/v1/files").Within();
        using var fineTune = await client.PostAsync("/v1/fine_tuning/jobs", Json("{}")).Within();
        using var outside = await client.GetAsync("/admin/usage").Within();
        using var models = await client.GetAsync("/v1/models").Within();

        Assert.Equal(HttpStatusCode.NotFound, files.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, fineTune.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, outside.StatusCode); // the admin API is not on the API listener
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        Assert.Contains(LocalLlmServer.DefaultModel, await models.Content.ReadAsStringAsync());
        Assert.Empty(gateway.Upstream.Requests);
        var usage = await gateway.UsageAsync("arith");
        Assert.Equal((1L, 0L), (usage.Requests, usage.ResponsesWithoutUsage)); // a model list carries no usage, and none is missing
        Assert.Equal(2, usage.Rejected[GatewayErrorCodes.UnknownUrl]);
    }

    [Fact]
    public async Task UnixSocket_ServesTheApi_AndAnyUserMayConnect()
    {
        await using var gateway = await StartAsync();
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });
        using var client = gateway.ApiOverUnixSocket(token);

        using var response = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("I don't know", await response.Content.ReadAsStringAsync());
        var mode = File.GetUnixFileMode(gateway.SocketPath);
        Assert.True(mode.HasFlag(UnixFileMode.OtherWrite), $"socket mode {mode}: a container's non-root user must be able to connect");
    }

    [Fact]
    public async Task UpstreamDown_Returns502InOpenAiShape_AndCountsAnError()
    {
        await using var gateway = await StartAsync();
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });
        await gateway.Upstream.DisposeAsync(); // nothing listens on the upstream's port any more
        using var client = gateway.Api(token);

        using var response = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal(GatewayErrorCodes.UpstreamUnavailable, error.GetProperty("code").GetString());
        var usage = await gateway.UsageAsync("arith");
        Assert.Equal(1, usage.Requests);
        Assert.Equal(1, usage.Errors);
        Assert.DoesNotContain(gateway.UpstreamKey, gateway.Logs.All);
    }
}
