using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class NetworkOptionsTests
{
    [Theory]
    [InlineData("isolated", NetworkMode.Isolated, "")]
    [InlineData(" Open ", NetworkMode.Open, "")]
    [InlineData("allow:api.github.com", NetworkMode.Isolated, "api.github.com")]
    [InlineData("allow:pypi.org:443, *.example.com ,127.0.0.1:8443", NetworkMode.Isolated, "pypi.org:443,*.example.com,127.0.0.1:8443")]
    public void Parse_ReadsEachForm_AndWritesItBack(string text, NetworkMode mode, string hosts)
    {
        var network = ContainerNetwork.Parse(text);
        Assert.Equal(mode, network.Mode);
        Assert.Equal(hosts, string.Join(',', network.EgressHosts));
        Assert.Equal(network, ContainerNetwork.Parse(network.ToString()));
    }

    [Theory]
    [InlineData("none", "is not one of: isolated, open, allow:HOST")]
    [InlineData("allow:", "names no host")]
    [InlineData("allow:,", "names no host")]
    [InlineData("allow:api.github.com:http", "has no valid port")]
    [InlineData("allow:host:70000", "has no valid port")]
    [InlineData("allow:bad host", "is not a host name")]
    public void Parse_BadValues_SayWhatIsAccepted(string text, string expected)
    {
        var e = Assert.Throws<EnvironmentOptionsException>(() => ContainerNetwork.Parse(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    private static readonly LlmAccessOptions Llm = new() { Upstream = "http://127.0.0.1:8001/v1" };

    [Theory]
    [InlineData("ssh://me@gpu-box", true, false, "needs a Docker engine on this machine")]
    [InlineData("tcp://gpu-box.example:2375", false, true, "needs a Docker engine on this machine")]
    [InlineData("local", true, true, null)]
    [InlineData("tcp://127.0.0.1:2375", true, true, null)]
    [InlineData("unix:///var/run/docker.sock", true, false, null)]
    public void IsolationAndGateway_NeedALocalEngine(string host, bool isolated, bool gateway, string? expected)
    {
        var options = new EnvironmentOptions
        {
            Image = "x:1",
            Docker = new DockerOptions { Hosts = [host], Network = isolated ? ContainerNetwork.Isolated : ContainerNetwork.Open },
            Llm = gateway ? Llm : null,
        };
        if (expected is null)
        {
            options.Validate();
            return;
        }
        var e = Assert.Throws<EnvironmentOptionsException>(options.Validate);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Contains(host, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ContradictoryOptions_AreRefused_SayingWhatToDrop()
    {
        Assert.Contains("exclude each other", Assert.Throws<EnvironmentOptionsException>(
            new EnvironmentOptions { Image = "x:1", Docker = new DockerOptions { Network = ContainerNetwork.Isolated, HostNetwork = true } }.Validate).Message, StringComparison.Ordinal);
        Assert.Contains("drop the host network", Assert.Throws<EnvironmentOptionsException>(
            new EnvironmentOptions { Image = "x:1", Llm = Llm, Docker = new DockerOptions { HostNetwork = true } }.Validate).Message, StringComparison.Ordinal);
        Assert.Contains("give the LLM upstream too", Assert.Throws<EnvironmentOptionsException>(
            new EnvironmentOptions { Image = "x:1", Docker = new DockerOptions { Network = ContainerNetwork.AllowList("api.github.com") } }.Validate).Message, StringComparison.Ordinal);
        Assert.Contains("url mode takes network open and no LLM gateway", Assert.Throws<EnvironmentOptionsException>(
            new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = ["http://127.0.0.1:1"], Docker = new DockerOptions { Network = ContainerNetwork.Isolated } }.Validate).Message, StringComparison.Ordinal);
        Assert.Contains("is not an http(s) URL", Assert.Throws<EnvironmentOptionsException>(
            new EnvironmentOptions { Image = "x:1", Llm = new LlmAccessOptions { Upstream = "llm.chutes.ai" } }.Validate).Message, StringComparison.Ordinal);
        Assert.Contains("is not an environment variable name", Assert.Throws<EnvironmentOptionsException>(
            new EnvironmentOptions { Image = "x:1", Llm = Llm with { KeyVariable = "MY-KEY" } }.Validate).Message, StringComparison.Ordinal);
        Assert.Contains("at least 1", Assert.Throws<EnvironmentOptionsException>(
            new EnvironmentOptions { Image = "x:1", Llm = Llm with { BudgetTokens = 0 } }.Validate).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OnBasilica_TheGatewayNeedsAPublicUrl_WhichIsHttp_AndExcludesPassingTheKey()
    {
        var basilica = new EnvironmentOptions { Mode = EnvironmentMode.Basilica, Image = "x:1", Basilica = new BasilicaOptions { ApiUrl = "http://127.0.0.1:1", Token = "basilica_k" } };
        Assert.Contains("set LlmAccessOptions.PublicBaseUrl", Assert.Throws<EnvironmentOptionsException>((basilica with { Llm = Llm }).Validate).Message, StringComparison.Ordinal);
        Assert.Contains("network isolated confines Docker containers", Assert.Throws<EnvironmentOptionsException>(
            (basilica with { Docker = new DockerOptions { Network = ContainerNetwork.Isolated } }).Validate).Message, StringComparison.Ordinal);
        Assert.Contains("is not an http(s) base URL", Assert.Throws<EnvironmentOptionsException>(
            (basilica with { Llm = Llm with { PublicBaseUrl = "ftp://gw.example/v1" } }).Validate).Message, StringComparison.Ordinal);
        Assert.Contains("is not ADDRESS:PORT", Assert.Throws<EnvironmentOptionsException>(
            (basilica with { Llm = Llm with { PublicBaseUrl = "https://gw.example/v1", Listen = "gw:80" } }).Validate).Message, StringComparison.Ordinal);
        Assert.Contains("choose one", Assert.Throws<EnvironmentOptionsException>(
            (basilica with { Llm = Llm with { PublicBaseUrl = "https://gw.example/v1" }, Basilica = basilica.Basilica with { PassLlmKey = true } }).Validate).Message, StringComparison.Ordinal);
        Assert.Contains("for environments far from this machine (basilica mode)", Assert.Throws<EnvironmentOptionsException>(
            new EnvironmentOptions { Image = "x:1", Llm = Llm with { PublicBaseUrl = "https://gw.example/v1" } }.Validate).Message, StringComparison.Ordinal);
        (basilica with { Llm = Llm with { PublicBaseUrl = "https://gw.example" } }).Validate();
        Assert.Equal("https://gw.example/v1", (Llm with { PublicBaseUrl = "https://gw.example/" }).ResolvedPublicBaseUrl);
        Assert.Equal("127.0.0.1:8791", (Llm with { PublicBaseUrl = "https://gw.example/v1" }).ResolvedListen);
    }

    [Fact]
    public async Task AGatewayThatCannotBeFound_IsAnOptionsErrorSayingHowToPublishIt()
    {
        await using var client = AffinetesClient.Create();
        var e = await Assert.ThrowsAsync<EnvironmentOptionsException>(() => client.LoadEnvAsync(new EnvironmentOptions
        {
            Image = "x:1",
            Docker = new DockerOptions { Network = ContainerNetwork.Isolated },
            Llm = Llm with { GatewayExecutable = "/nonexistent/affinetes-llm-gateway" },
        })).Within();
        Assert.Contains("scripts/publish-gateway.sh", e.Message, StringComparison.Ordinal);
    }
}
