using System.Collections;
using Affinetes.LlmGateway.Hosting;

namespace Affinetes.LlmGateway.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class OptionsTests
{
    private static GatewayOptions Parse(string arguments, IDictionary? environment = null) =>
        GatewayCommandLine.ToOptions(GatewayCommandLine.Build().Parse(arguments), environment ?? new Hashtable());

    [Fact]
    public void KeyComesFromTheDefaultVariable_AndNeverPrints()
    {
        var options = Parse("--upstream http://127.0.0.1:9/v1 --listen 127.0.0.1:0 --unix-socket /tmp/x.sock --admin-listen 127.0.0.1:0",
            new Hashtable { [GatewayOptions.DefaultKeyVariable] = "sk-secret-value" });

        Assert.Equal("sk-secret-value", options.UpstreamKey!.Value);
        Assert.DoesNotContain("sk-secret-value", options.ToString());
        Assert.Equal(["/tmp/x.sock"], options.UnixSockets);
        Assert.Equal(0, options.Listen.Single().Port);
    }

    [Fact]
    public void KeyEnv_NamingAnUnsetVariable_IsAnError()
    {
        var e = Assert.Throws<OptionsException>(() => Parse("--upstream http://127.0.0.1:9/v1 --listen 127.0.0.1:0 --upstream-key-env CHUTES_API_KEY"));
        Assert.Contains("CHUTES_API_KEY", e.Message);
        Assert.Equal("sk-x", Parse("--upstream http://127.0.0.1:9/v1 --listen 127.0.0.1:0 --upstream-key-env CHUTES_API_KEY",
            new Hashtable { ["CHUTES_API_KEY"] = "sk-x" }).UpstreamKey!.Value);
    }

    [Theory]
    [InlineData("--upstream http://127.0.0.1:9/v1", "--listen")]
    [InlineData("--upstream ftp://x/v1 --listen 127.0.0.1:0", "http(s) base URL")]
    [InlineData("--upstream http://127.0.0.1:9/v1 --listen nowhere", "ADDRESS:PORT")]
    [InlineData("--upstream http://127.0.0.1:9/v1 --listen 127.0.0.1:0 --admin-listen 0.0.0.0:9000", "loopback")]
    [InlineData("--upstream http://127.0.0.1:9/v1 --listen 127.0.0.1:0 --upstream-timeout 0", "--upstream-timeout")]
    public void BadOptions_SayHowToFixThem(string arguments, string expected)
    {
        var e = Assert.Throws<OptionsException>(() => Parse(arguments));
        Assert.Contains(expected, e.Message);
    }
}
