
namespace Affinetes.LlmGateway.Tests;

[Trait(Tiers.Name, Tiers.Host)]
public sealed class UsageTests
{
    [Fact]
    public async Task Usage_PerEnvironmentAndPerTask_EqualsWhatTheUpstreamReported()
    {
        // Each question says how many tokens the upstream reports for it; "fail" makes the upstream answer 500.
        await using var gateway = await StartAsync(request => request.LastUserMessage == "fail"
            ? LlmReply.Error(500, "upstream broke")
            : LlmReply.Text("ok") with { Usage = (int.Parse(request.LastUserMessage.Split(' ')[0]), int.Parse(request.LastUserMessage.Split(' ')[1])) });
        var arith = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });
        var logic = await gateway.RegisterAsync(new GatewayTenant { Name = "logic" });
        using var arithClient = gateway.Api(arith);
        using var logicClient = gateway.Api(logic);

        async Task SendAsync(HttpClient client, string question, string? taskHeader = null, string path = "/v1/chat/completions")
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(ChatBody(question)) };
            if (taskHeader is not null)
            {
                request.Headers.Add(GatewayHeaders.Task, taskHeader);
            }
            using var response = await client.SendAsync(request).Within();
            Assert.Equal(question == "fail" ? HttpStatusCode.InternalServerError : HttpStatusCode.OK, response.StatusCode);
        }
        await SendAsync(arithClient, "10 2", taskHeader: "task-1");
        await SendAsync(arithClient, "5 1", taskHeader: "task-1");
        await SendAsync(arithClient, "fail", taskHeader: "task-1");
        await SendAsync(arithClient, "7 3", path: "/tasks/task-2/v1/chat/completions");
        // The per-task base URL, as the client hands it to evaluate(base_url=...), through the OpenAI SDK.
        var taskUrl = new Uri(GatewayRoutes.TaskBaseUrl(gateway.BaseUrl.ToString(), "task-2"));
        await gateway.OpenAi(arith, baseUrl: taskUrl).CompleteChatAsync([SdkMessage.CreateUserMessage("4 4")]).Within();
        await SendAsync(arithClient, "1 1");
        await SendAsync(logicClient, "100 50", taskHeader: "task-1");

        var usage = await gateway.UsageAsync("arith");
        Assert.Equal((6, 1), (usage.Requests, usage.Errors));
        Assert.Equal((27, 11, 38), (usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens));
        Assert.Equal(6, usage.LatencyMs.Count);
        Assert.True(usage.LatencyMs.Max >= usage.LatencyMs.P50 && usage.LatencyMs.P50 > 0);
        Assert.Equal(["task-1", "task-2"], usage.Tasks.Keys);
        Assert.Equal((3L, 1L, 15L, 3L), (usage.Tasks["task-1"].Requests, usage.Tasks["task-1"].Errors, usage.Tasks["task-1"].PromptTokens, usage.Tasks["task-1"].CompletionTokens));
        Assert.Equal((2L, 0L, 11L, 7L), (usage.Tasks["task-2"].Requests, usage.Tasks["task-2"].Errors, usage.Tasks["task-2"].PromptTokens, usage.Tasks["task-2"].CompletionTokens));
        var logicUsage = await gateway.UsageAsync("logic");
        Assert.Equal((1, 100, 50), (logicUsage.Requests, logicUsage.PromptTokens, logicUsage.CompletionTokens));
        Assert.Equal(150, logicUsage.Tasks["task-1"].TotalTokens);
        // Everything the upstream reported is accounted to exactly one environment.
        Assert.Equal(gateway.Upstream.ReportedTokens, (usage.PromptTokens + logicUsage.PromptTokens, usage.CompletionTokens + logicUsage.CompletionTokens));
        Assert.DoesNotContain(GatewayHeaders.Task, string.Join(",", gateway.Upstream.Requests.Select(r => r.Body)));
    }

    [Fact]
    public async Task BadTaskId_Returns400_AndIsNotForwarded()
    {
        await using var gateway = await StartAsync();
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith" });
        using var client = gateway.Api(token);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Json(ChatBody()) };
        request.Headers.Add(GatewayHeaders.Task, new string('x', 200));

        using var response = await client.SendAsync(request).Within();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(GatewayErrorCodes.InvalidTaskId, await response.Content.ReadAsStringAsync());
        Assert.Empty(gateway.Upstream.Requests);
    }
}
