using System.Net;
using System.Text.Json;
using Affinetes.ActorHost.Endpoints;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

/// <summary>
/// The original's <c>timeout</c> convention on <c>/call</c>: the kwarg reaches the method, and the call is given up
/// at <c>timeout + 10 s</c> with a 200 <c>failed</c> envelope. Negative timeouts keep the tests short: -9.5 gives 0.5 s.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class TimeoutKwargTests(ProtocolHostFixture fixture) : IClassFixture<ProtocolHostFixture>
{
    private HostUnderTest Host => fixture.Host;

    [Fact]
    public async Task Timeout_IsPassedToTheMethod_AsItCame()
    {
        var (status, body) = await Host.CallAsync("/call", """{"method":"takes_timeout","kwargs":{"seconds":0,"timeout":600.0}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"timeout":600.0}""", body.GetProperty("result").GetRawText());
    }

    [Fact]
    public async Task PastTimeoutPlusGrace_Answers200Failed_AndCancelsTheWork()
    {
        var (status, body) = await Host.CallAsync("/call", """{"method":"takes_timeout","kwargs":{"seconds":30,"timeout":-9.5,"tag":"kwarg-limit"}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"status":"failed","result":{"error":"Task execution exceeded timeout of -9.5s (+10s grace)"},"error":null}""", body.GetRawText());
        await Bounded.Until(async () =>
        {
            var (_, c) = await Host.CallAsync("/cancellations", "{}");
            return c.GetProperty("result").GetProperty("cancelled").EnumerateArray().Any(t => t.GetString() == "kwarg-limit");
        }, TimeSpan.FromSeconds(10), "the abandoned call being cancelled");
    }

    [Fact]
    public async Task ShorterDeadlineHeader_WinsWith504()
    {
        var (status, body) = await Host.CallAsync("/call", """{"method":"takes_timeout","kwargs":{"seconds":30,"timeout":5}}""",
            new Dictionary<string, string> { ["X-Affinetes-Timeout"] = "0.3" });
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Equal("deadline_exceeded", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("\"abc\"")]
    [InlineData("[1]")]
    [InlineData("{}")]
    public async Task UnparsableTimeout_Answers200Failed_WithoutCallingTheMethod(string timeout)
    {
        var (status, body) = await Host.CallAsync("/call", $$$"""{"method":"takes_timeout","kwargs":{"seconds":0,"timeout":{{{timeout}}},"tag":"never-{{{timeout.Length}}}"}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"status":"failed","result":{"error":"Invalid timeout; expected a number of seconds."},"error":null}""", body.GetRawText());
        var (_, c) = await Host.CallAsync("/cancellations", "{}");
        Assert.DoesNotContain(c.GetProperty("result").GetProperty("started").EnumerateArray(), t => t.GetString() == $"never-{timeout.Length}");
    }

    [Theory]
    [InlineData("null")]
    [InlineData("\" 2.5 \"")]
    [InlineData("\"inf\"")]
    public async Task NullOrNumericTextTimeout_IsAccepted(string timeout)
    {
        var (status, body) = await Host.CallAsync("/call", $$$"""{"method":"takes_timeout","kwargs":{"seconds":0,"timeout":{{{timeout}}}}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("success", body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task FlatRoute_PassesTimeoutThroughWithoutTheConvention_AsTheOriginal()
    {
        var (status, body) = await Host.CallAsync("/takes_timeout", """{"seconds":0,"timeout":"abc"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("abc", body.GetProperty("result").GetProperty("timeout").GetString());
    }
}

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class TimeoutKwargValueTests
{
    private static TimeoutKwargValue Read(string json)
    {
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json));
        reader.Read();
        return TimeoutKwargValue.From(ref reader);
    }

    [Theory]
    [InlineData("1", "1.0")]
    [InlineData("600.0", "600.0")]
    [InlineData("0.5", "0.5")]
    [InlineData("\"30\"", "30.0")]
    [InlineData("true", "1.0")]
    [InlineData("1e-5", "1e-05")]
    [InlineData("2e16", "2e+16")]
    [InlineData("1000000000000000", "1000000000000000.0")]
    [InlineData("\"1_000\"", "1000.0")]
    [InlineData("-0.0", "-0.0")]
    public void PrintsSecondsAsPythonPrintsAFloat(string json, string python)
    {
        var value = Read(json);
        Assert.True(value.Valid);
        Assert.Equal(python, value.PythonText());
    }

    [Theory]
    [InlineData("\"abc\"")]
    [InlineData("\"1__0\"")]
    [InlineData("[]")]
    [InlineData("\"\"")]
    public void RejectsWhatFloatRejects(string json) => Assert.False(Read(json).Valid);

    [Fact]
    public void Limit_IsTimeoutPlusGrace_AndNoneForNullOrInfinity()
    {
        Assert.Equal(TimeSpan.FromSeconds(11), Read("1").Limit);
        Assert.Equal(TimeSpan.Zero, Read("-20").Limit);
        Assert.Null(Read("null").Limit);
        Assert.Null(Read("\"inf\"").Limit);
    }
}
