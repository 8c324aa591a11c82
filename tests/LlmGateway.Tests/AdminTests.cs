using System.Net.Http.Json;

namespace Affinetes.LlmGateway.Tests;

[Trait(Tiers.Name, Tiers.Host)]
public sealed class AdminTests
{
    [Fact]
    public async Task Register_IssuesAToken_RemoveRevokesIt_AndTheApiIsNotOnTheAdminListener()
    {
        await using var gateway = await StartAsync();
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith", MaxConcurrency = 4, AllowedModels = ["m"] });
        using var client = gateway.Api(token);

        using var list = await gateway.Admin.GetAsync(GatewayRoutes.Tenants).Within();
        var listed = await list.Content.ReadAsStringAsync();
        using var apiOnAdmin = await gateway.Admin.GetAsync("/v1/models").Within();
        using var before = await client.GetAsync("/v1/models").Within();
        using var removed = await gateway.Admin.DeleteAsync($"{GatewayRoutes.Tenants}/arith").Within();
        using var after = await client.GetAsync("/v1/models").Within();
        using var removedAgain = await gateway.Admin.DeleteAsync($"{GatewayRoutes.Tenants}/arith").Within();

        Assert.StartsWith("afgw-", token);
        Assert.True(token.Length >= 40);
        Assert.Contains("\"name\":\"arith\"", listed);
        Assert.Contains("\"max_concurrency\":4", listed);
        Assert.DoesNotContain(token, listed); // tokens are shown once, at registration
        Assert.Equal(HttpStatusCode.NotFound, apiOnAdmin.StatusCode);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, removedAgain.StatusCode);
    }

    [Theory]
    [InlineData("""{"name":"bad name"}""", "letters, digits")]
    [InlineData("""{"name":"a","max_concurrency":0}""", "max_concurrency")]
    [InlineData("""{"name":"a","budget_tokens":-1}""", "budget_tokens")]
    [InlineData("""{"name":"a","token":"short"}""", "at least 24")]
    [InlineData("""{"name":"a","egress_hosts":["http://x/"]}""", "egress host")]
    [InlineData("""{"max_concurrency":3}""", "name")]
    [InlineData("""not json""", "not a gateway environment")]
    public async Task Register_BadInput_Returns400SayingWhatToFix(string body, string expected)
    {
        await using var gateway = await StartAsync();

        using var response = await gateway.Admin.PostAsync(GatewayRoutes.Tenants, Json(body)).Within();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Register_SameNameOrToken_Returns409()
    {
        await using var gateway = await StartAsync();
        await gateway.RegisterAsync(new GatewayTenant { Name = "arith", Token = "given-token-given-token-given-token" });

        using var sameName = await gateway.Admin.PostAsJsonAsync(GatewayRoutes.Tenants, new GatewayTenant { Name = "arith" }, GatewayJson.Default.GatewayTenant).Within();
        using var sameToken = await gateway.Admin.PostAsJsonAsync(GatewayRoutes.Tenants,
            new GatewayTenant { Name = "other", Token = "given-token-given-token-given-token" }, GatewayJson.Default.GatewayTenant).Within();

        Assert.Equal(HttpStatusCode.Conflict, sameName.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, sameToken.StatusCode);
    }

    [Fact]
    public async Task ConfigFile_EnvironmentsWork_WithTheirTokens()
    {
        const string Token = "config-token-config-token-config-token";
        await using var gateway = await StartAsync(null, new GatewayTenant { Name = "from-config", Token = Token, MaxTokensPerRequest = 64 });
        using var client = gateway.Api(Token);

        using var response = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();
        using var usage = await gateway.Admin.GetAsync(GatewayRoutes.Usage).Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(64, JsonDocument.Parse(Assert.Single(gateway.Upstream.Requests).Body).RootElement.GetProperty("max_tokens").GetInt32());
        var all = (await usage.Content.ReadFromJsonAsync(GatewayJson.Default.GatewayUsage))!;
        Assert.Equal(1, Assert.Single(all.Tenants).Requests);
    }
}
