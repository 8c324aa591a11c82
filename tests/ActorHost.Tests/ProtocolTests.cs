using System.Net;
using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

public sealed class ProtocolHostFixture : IAsyncLifetime
{
    public HostUnderTest Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await HostUnderTest.StartAsync("protocol_env.py");

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>The wire protocol of the Python original, served over real HTTP with real CPython.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class ProtocolTests(ProtocolHostFixture fixture) : IClassFixture<ProtocolHostFixture>
{
    private HostUnderTest Host => fixture.Host;

    [Fact]
    public async Task Call_WithArgsAndKwargs_ReturnsSuccessEnvelope()
    {
        var (status, body) = await Host.CallAsync("/call", """{"method":"echo","args":[7],"kwargs":{"text":"yo"}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("success", body.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("error").ValueKind);
        Assert.Equal(7, body.GetProperty("result").GetProperty("x").GetInt32());
        Assert.Equal("yo", body.GetProperty("result").GetProperty("text").GetString());
    }

    [Fact]
    public async Task MethodRoute_FlatKwargs_ReturnsSuccessEnvelope()
    {
        var (status, body) = await Host.CallAsync("/echo", """{"x":3}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"x":3,"text":"hi"}""", body.GetProperty("result").GetRawText());
    }

    [Fact]
    public async Task MethodRoute_ArgsKwargsForm_IsAccepted()
    {
        var (status, body) = await Host.CallAsync("/add", """{"args":[1.5],"kwargs":{"b":2}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3.5, body.GetProperty("result").GetDouble());
    }

    [Fact]
    public async Task MethodRoute_EmptyBody_CallsWithNoArguments()
    {
        using var response = await Host.Client.PostAsync("/inherited", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("from base", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task VarArgsMethod_ReceivesEverything()
    {
        var (_, body) = await Host.CallAsync("/call", """{"method":"everything","args":[1,"two"],"kwargs":{"k":[1,2]}}""");
        Assert.Equal("""{"args":[1,"two"],"kwargs":{"k":[1,2]}}""", body.GetProperty("result").GetRawText());
    }

    [Fact]
    public async Task Async_Method_IsAwaited()
    {
        var (status, body) = await Host.CallAsync("/sleep", """{"ms":10,"tag":"one"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("one", body.GetProperty("result").GetProperty("tag").GetString());
    }

    [Fact]
    public async Task StaticMethod_IsCallable()
    {
        var (_, body) = await Host.CallAsync("/static_method", """{"value":21}""");
        Assert.Equal(42, body.GetProperty("result").GetInt32());
    }

    [Theory]
    [InlineData("_private")]
    [InlineData("__secret__")]
    [InlineData("__init__")]
    [InlineData("__class__")]
    [InlineData("getcwd")]
    [InlineData("callback")]
    [InlineData("secret")]
    [InlineData("prop")]
    [InlineData("nonexistent")]
    public async Task NonPublicOrUnknownNames_Return404_OnBothRoutes(string name)
    {
        var (status, body) = await Host.CallAsync("/call", $$$"""{"method":"{{{name}}}","args":[],"kwargs":{}}""");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.StartsWith($"Method not found: {name}", body.GetProperty("detail").GetString());
        Assert.Equal("method_not_found", body.GetProperty("error").GetProperty("code").GetString());
        Assert.DoesNotContain("top-secret-value", body.GetRawText());

        var (routeStatus, _) = await Host.CallAsync("/" + name, "{}");
        Assert.Equal(HttpStatusCode.NotFound, routeStatus);
    }

    [Fact]
    public async Task Methods_ListsPublicMethodsOnly_InTheOriginalShape()
    {
        using var doc = JsonDocument.Parse(await Host.Client.GetStringAsync("/methods"));
        var methods = doc.RootElement.GetProperty("methods").EnumerateArray().ToList();
        var names = methods.Select(m => m.GetProperty("name").GetString()).ToHashSet();
        Assert.Contains("echo", names);
        Assert.Contains("sleep", names);
        Assert.Contains("inherited", names);
        Assert.Contains("static_method", names);
        Assert.DoesNotContain("_private", names);
        Assert.DoesNotContain("getcwd", names);
        Assert.DoesNotContain("callback", names);
        Assert.DoesNotContain("prop", names);
        var echo = methods.Single(m => m.GetProperty("name").GetString() == "echo");
        Assert.Equal("(x: int, text: str = 'hi')", echo.GetProperty("signature").GetString());
        Assert.Equal("Actor", echo.GetProperty("source").GetString());
        Assert.Equal("POST /echo", echo.GetProperty("endpoint").GetString());
        Assert.True(doc.RootElement.TryGetProperty("usage", out _));
    }

    [Fact]
    public async Task OpenApi_DescribesParametersTypesDefaultsAndDocstrings()
    {
        using var doc = JsonDocument.Parse(await Host.Client.GetStringAsync("/openapi.json"));
        var echo = doc.RootElement.GetProperty("paths").GetProperty("/echo").GetProperty("post");
        Assert.Equal("Returns its arguments.", echo.GetProperty("description").GetString());
        var schema = echo.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.Equal("integer", schema.GetProperty("properties").GetProperty("x").GetProperty("type").GetString());
        Assert.Equal("string", schema.GetProperty("properties").GetProperty("text").GetProperty("type").GetString());
        Assert.Equal("hi", schema.GetProperty("properties").GetProperty("text").GetProperty("default").GetString());
        Assert.Equal(new[] { "x" }, schema.GetProperty("required").EnumerateArray().Select(e => e.GetString()!).ToArray());
        var optional = doc.RootElement.GetProperty("paths").GetProperty("/optional").GetProperty("post")
            .GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.Equal("integer", optional.GetProperty("properties").GetProperty("value").GetProperty("type").GetString());
        Assert.False(optional.TryGetProperty("required", out _));
        Assert.True(optional.GetProperty("properties").GetProperty("value").GetProperty("nullable").GetBoolean());
        Assert.False(optional.GetProperty("properties").GetProperty("flag").TryGetProperty("nullable", out _));
        var noneDefault = doc.RootElement.GetProperty("paths").GetProperty("/none_default").GetProperty("post")
            .GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.True(noneDefault.GetProperty("properties").GetProperty("name").GetProperty("nullable").GetBoolean());
        Assert.False(doc.RootElement.GetProperty("paths").TryGetProperty("/_private", out _));
    }

    [Fact]
    public async Task Health_And_Ready_AreOkOnceConstructed()
    {
        Assert.Contains("\"ok\"", await Host.Client.GetStringAsync("/health"));
        Assert.Contains("\"ok\"", await Host.Client.GetStringAsync("/ready"));
    }
}
