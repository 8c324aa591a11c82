using Affinetes.LlmGateway.Tenants;

namespace Affinetes.LlmGateway.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class EgressRuleTests
{
    [Theory]
    [InlineData("api.example.com", "api.example.com", 443, true)]
    [InlineData("api.example.com", "API.Example.com", 443, true)]
    [InlineData("api.example.com", "api.example.com", 80, false)]
    [InlineData("api.example.com:8443", "api.example.com", 8443, true)]
    [InlineData("api.example.com", "evil-api.example.com", 443, false)]
    [InlineData("*.example.com", "a.b.example.com", 443, true)]
    [InlineData("*.example.com", "example.com", 443, false)]
    [InlineData("*.example.com", "badexample.com", 443, false)]
    [InlineData("127.0.0.1:9000", "127.0.0.1", 9000, true)]
    [InlineData("[::1]:9000", "[::1]", 9000, true)]
    public void Matches_OnlyTheNamedHostAndPort(string rule, string host, int port, bool expected)
    {
        Assert.True(EgressRule.TryParse(rule, out var parsed));
        Assert.Equal(expected, parsed.Matches(host, port));
    }

    [Theory]
    [InlineData("http://example.com/")]
    [InlineData("example.com:0")]
    [InlineData("example.com:99999")]
    [InlineData("*.")]
    [InlineData("")]
    public void TryParse_RefusesWhatIsNotAHost(string rule) => Assert.False(EgressRule.TryParse(rule, out _));
}
