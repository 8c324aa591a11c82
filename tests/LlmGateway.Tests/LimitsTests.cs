using System.ClientModel;

namespace Affinetes.LlmGateway.Tests;

[Trait(Tiers.Name, Tiers.Host)]
public sealed class LimitsTests
{
    private static async Task<string> ErrorCodeAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString()!;

    [Fact]
    public async Task RequestRate_BeyondRequestsPerMinute_Returns429WithRetryAfter_OtherEnvironmentsUnaffected()
    {
        await using var gateway = await StartAsync();
        var limited = await gateway.RegisterAsync(new GatewayTenant { Name = "limited", RequestsPerMinute = 2 });
        var other = await gateway.RegisterAsync(new GatewayTenant { Name = "other" });
        using var client = gateway.Api(limited);
        using var otherClient = gateway.Api(other);

        using var first = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();
        using var second = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();
        using var third = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();
        using var otherThird = await otherClient.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal(GatewayErrorCodes.RateLimitExceeded, await ErrorCodeAsync(third));
        Assert.True(third.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 and <= 30 }, $"Retry-After {third.Headers.RetryAfter}");
        Assert.Equal(HttpStatusCode.OK, otherThird.StatusCode);
        Assert.Equal(3, gateway.Upstream.Requests.Count);
        var usage = await gateway.UsageAsync("limited");
        Assert.Equal(2, usage.Requests);
        Assert.Equal(1, usage.Rejected[GatewayErrorCodes.RateLimitExceeded]);
    }

    [Fact]
    public async Task Concurrency_BeyondTheLimit_Returns429WhileOthersAreInFlight_AndASlotFreesWhenOneEnds()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var gateway = await StartAsync(request => request.LastUserMessage == "hold" ? LlmReply.Text("held") with { Hold = release.Task } : LlmReply.Text("quick"));
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith", MaxConcurrency = 2 });
        using var client = gateway.Api(token);

        var held = Enumerable.Range(0, 2).Select(_ => client.PostAsync("/v1/chat/completions", Json(ChatBody("hold")))).ToList();
        await Bounded.Until(() => Task.FromResult(gateway.Upstream.Requests.Count == 2), TimeSpan.FromSeconds(20), "two requests reaching the upstream");
        using var refused = await client.PostAsync("/v1/chat/completions", Json(ChatBody("quick"))).Within();
        var sdkRefused = await Assert.ThrowsAsync<ClientResultException>(() => gateway.OpenAi(token).CompleteChatAsync([SdkMessage.CreateUserMessage("quick")]).Within());
        release.SetResult();
        var answers = await Task.WhenAll(held).Within();
        using var after = await client.PostAsync("/v1/chat/completions", Json(ChatBody("quick"))).Within();

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(GatewayErrorCodes.ConcurrencyLimitExceeded, await ErrorCodeAsync(refused));
        Assert.Equal(429, sdkRefused.Status);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(2, (await gateway.UsageAsync("arith")).Rejected[GatewayErrorCodes.ConcurrencyLimitExceeded]);
        foreach (var answer in answers)
        {
            answer.Dispose();
        }
    }

    [Fact]
    public async Task Budget_OnceSpent_Returns429InsufficientQuota_AndNothingMoreReachesUpstream()
    {
        await using var gateway = await StartAsync(_ => LlmReply.Text("four") with { Usage = (15, 5) });
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith", BudgetTokens = 30 });
        using var client = gateway.Api(token);

        using var first = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();   // 20 used
        using var second = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();  // 40 used: over
        using var third = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();
        var sdkError = await Assert.ThrowsAsync<ClientResultException>(() => gateway.OpenAi(token).CompleteChatAsync([SdkMessage.CreateUserMessage("hi")]).Within());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        var error = JsonDocument.Parse(await third.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal(GatewayErrorCodes.BudgetExhausted, error.GetProperty("code").GetString());
        Assert.Equal("insufficient_quota", error.GetProperty("type").GetString());
        Assert.Equal(429, sdkError.Status);
        Assert.Equal(2, gateway.Upstream.Requests.Count);
        var usage = await gateway.UsageAsync("arith");
        Assert.Equal(40, usage.TotalTokens);
        Assert.Equal(0, usage.BudgetRemaining);
        Assert.Equal(2, usage.Rejected[GatewayErrorCodes.BudgetExhausted]);
    }
}
