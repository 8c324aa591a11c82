using System.Net;
using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

/// <summary>Errors a client can act on, and JSON both ways, on the shared protocol host.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class ErrorAndJsonTests(ProtocolHostFixture fixture) : IClassFixture<ProtocolHostFixture>
{
    private HostUnderTest Host => fixture.Host;

    private static string Code(JsonElement body) => body.GetProperty("error").GetProperty("code").GetString()!;

    private static string? Parameter(JsonElement body) =>
        body.GetProperty("error").TryGetProperty("parameter", out var p) ? p.GetString() : null;

    [Theory]
    [InlineData("/call", "{bad json")]
    [InlineData("/call", "[1,2]")]
    [InlineData("/call", "")]
    [InlineData("/echo", "{bad json")]
    [InlineData("/echo", "\"just a string\"")]
    public async Task InvalidJson_Returns400_NeverSilentlyEmpty(string path, string json)
    {
        var (status, body) = await Host.CallAsync(path, json);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_json", Code(body));
    }

    [Fact]
    public async Task MissingArgument_Returns400NamingIt()
    {
        var (status, body) = await Host.CallAsync("/echo", """{"text":"no x"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_arguments", Code(body));
        Assert.Equal("x", Parameter(body));
        Assert.Contains("'x'", body.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task UnexpectedArgument_Returns400NamingIt()
    {
        var (status, body) = await Host.CallAsync("/call", """{"method":"echo","kwargs":{"x":1,"colour":"red"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("colour", Parameter(body));
    }

    [Fact]
    public async Task TooManyPositionalArguments_Returns400()
    {
        var (status, body) = await Host.CallAsync("/call", """{"method":"echo","args":[1,"a","b"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_arguments", Code(body));
    }

    [Theory]
    [InlineData("""{"x":"42"}""", "\"42\"")]
    [InlineData("""{"x":600.0}""", "600.0")]
    [InlineData("""{"x":true}""", "true")]
    [InlineData("""{"x":1,"text":500}""", "1")]
    public async Task ByDefault_ValuesPassThroughWhateverTheAnnotation_AsInTheOriginal(string json, string x)
    {
        var (status, body) = await Host.CallAsync("/echo", json);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(x, body.GetProperty("result").GetProperty("x").GetRawText());
    }

    [Fact]
    public async Task MisspeltKwarg_Returns400NamingTheUnexpectedAndTheMissingOne()
    {
        var (status, body) = await Host.CallAsync("/call", """{"method":"dataclass_result","kwargs":{"taskid":4}}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_arguments", Code(body));
        Assert.Equal("taskid", Parameter(body));
        var message = body.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("unexpected argument 'taskid' (did you mean 'task_id'?)", message);
        Assert.Contains("missing required argument 'task_id'", message);
    }

    [Fact]
    public async Task UnknownMethod_ListsTheMethods_AndSuggestsTheNearest()
    {
        var (status, body) = await Host.CallAsync("/call", """{"method":"ecco","kwargs":{}}""");
        Assert.Equal(HttpStatusCode.NotFound, status);
        var message = body.GetProperty("error").GetProperty("message").GetString()!;
        Assert.StartsWith("Method not found: ecco; did you mean 'echo'?", message);
        Assert.Contains("add, async_fail", message);
        var (_, far) = await Host.CallAsync("/completely_unrelated", "{}");
        Assert.DoesNotContain("did you mean", far.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task EmptyMethodName_IsNotCallable()
    {
        var (status, body) = await Host.CallAsync("/call", """{"method":"","kwargs":{}}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_arguments", Code(body));
        Assert.Equal("method", Parameter(body));
    }

    [Theory]
    [InlineData("/call", new byte[] { 0x7b, 0x22, 0x6d, 0x65, 0x74, 0x68, 0x6f, 0x64, 0x22, 0x3a, 0x22, 0x65, 0x63, 0x68, 0xff, 0x22, 0x7d })] // {"method":"ech\xff"}
    [InlineData("/call", new byte[] { 0x7b, 0x22, 0x6d, 0x65, 0x74, 0x68, 0x6f, 0x64, 0x22, 0x3a, 0x22, 0x65, 0x63, 0x68, 0x6f, 0x22, 0x2c, 0x22, 0x61, 0x72, 0x67, 0x73, 0x22, 0x3a, 0x5b, 0x22, 0xc3, 0x28, 0x22, 0x5d, 0x7d })] // args ["\xc3("]
    [InlineData("/identity", new byte[] { 0x7b, 0x22, 0x76, 0x61, 0x6c, 0x75, 0x65, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d })] // a UTF-8-encoded surrogate
    public async Task InvalidUtf8_Returns400InvalidJson_OnBothRoutes(string path, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await Host.Client.PostAsync(path, content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("invalid_json", Code(doc.RootElement));
        Assert.Contains("not valid UTF-8", doc.RootElement.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task OptionalParameter_AcceptsNullAndIntegersForFloats()
    {
        var (_, body) = await Host.CallAsync("/optional", """{"value":null,"flag":true}""");
        Assert.Equal("""{"value":null,"flag":true}""", body.GetProperty("result").GetRawText());
        var (_, sum) = await Host.CallAsync("/add", """{"a":1,"b":2}""");
        Assert.Equal(3, sum.GetProperty("result").GetDouble());
    }

    [Fact]
    public async Task ArgsNotAList_Returns400()
    {
        var (status, body) = await Host.CallAsync("/call", """{"method":"echo","args":{"x":1}}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("args", Parameter(body));
    }

    [Fact]
    public async Task MethodNotAString_Returns400()
    {
        var (status, body) = await Host.CallAsync("/call", """{"method":5}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("method", Parameter(body));
    }

    [Fact]
    public async Task ActorException_Returns500WithTypeAndMessage_NoTraceback()
    {
        var (status, body) = await Host.CallAsync("/fail", """{"message":"the model said no"}""");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("actor_error", Code(body));
        Assert.Equal("ValueError", body.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("the model said no", body.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal("ValueError: the model said no", body.GetProperty("detail").GetString());
        Assert.DoesNotContain("Traceback", body.GetRawText());
    }

    [Fact]
    public async Task TypeErrorInsideTheMethod_Is500NotBadArguments()
    {
        var (status, body) = await Host.CallAsync("/inner_type_error", "{}");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("TypeError", body.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task AsyncActorException_Returns500()
    {
        var (status, body) = await Host.CallAsync("/async_fail", "{}");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("KeyError", body.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task NonSerialisableResult_Is500NamingTheType()
    {
        var (status, body) = await Host.CallAsync("/not_serialisable", "{}");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("result_not_serializable", Code(body));
        Assert.Contains("builtins.object", body.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task NanResult_Is500NotInvalidJson()
    {
        var (status, body) = await Host.CallAsync("/nan_result", "{}");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("result_not_serializable", Code(body));
    }

    [Fact]
    public async Task ServerKeepsServing_AfterEveryKindOfError()
    {
        await Host.CallAsync("/fail", "{}");
        await Host.CallAsync("/echo", "{bad");
        await Host.CallAsync("/not_serialisable", "{}");
        await Host.CallAsync("/nope", "{}");
        var (status, _) = await Host.CallAsync("/echo", """{"x":1}""");
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Theory]
    [InlineData("123456789012345678901234567890123456789")]
    [InlineData("-9223372036854775809")]
    [InlineData("1.5e300")]
    [InlineData("true")]
    [InlineData("null")]
    [InlineData("\"ünïcødé ✓ \\\" quotes\"")]
    [InlineData("""{"nested":[1,{"a":null,"b":[true,false]}],"empty":{}}""")]
    [InlineData("[]")]
    public async Task JsonValues_RoundTripExactly(string value)
    {
        var (status, body) = await Host.CallAsync("/identity", $$"""{"value":{{value}}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(value).RootElement, body.GetProperty("result")),
            $"sent {value}, got {body.GetProperty("result").GetRawText()}");
    }

    [Fact]
    public async Task DataclassResult_IsConvertedLikeTheOriginal()
    {
        var (_, body) = await Host.CallAsync("/dataclass_result", """{"task_id":4}""");
        Assert.Equal("""{"task_id":4,"score":0.5,"tags":["a","b"]}""", body.GetProperty("result").GetRawText());
    }

    [Fact]
    public async Task NestedDataclasses_AreConverted()
    {
        var (_, body) = await Host.CallAsync("/nested_result", "{}");
        Assert.Equal(2, body.GetProperty("result").GetProperty("scores")[1].GetProperty("task_id").GetInt32());
    }

    [Fact]
    public async Task PydanticResult_IsConverted()
    {
        var (status, body) = await Host.CallAsync("/pydantic_result", "{}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"name":"r","value":7}""", body.GetProperty("result").GetRawText());
    }

    [Fact]
    public async Task ToDictResult_IsConverted()
    {
        var (_, body) = await Host.CallAsync("/to_dict_result", "{}");
        Assert.Equal("""{"converted":3}""", body.GetProperty("result").GetRawText());
    }
}

public sealed class StrictHostFixture : IAsyncLifetime
{
    public HostUnderTest Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await HostUnderTest.StartAsync("protocol_env.py", o => o with { StrictTypes = true });

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>The opt-in strict mode (AFFINETES_STRICT_TYPES): a value whose JSON type contradicts a simple annotation is 400.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class StrictTypesTests(StrictHostFixture fixture) : IClassFixture<StrictHostFixture>
{
    private HostUnderTest Host => fixture.Host;

    private static string? Parameter(JsonElement body) =>
        body.GetProperty("error").TryGetProperty("parameter", out var p) ? p.GetString() : null;

    [Theory]
    [InlineData("""{"x":"seven"}""", "x", "expects integer, got string")]
    [InlineData("""{"x":true}""", "x", "expects integer, got boolean")]
    [InlineData("""{"x":1,"text":5}""", "text", "expects string, got integer")]
    public async Task WrongType_Returns400NamingParameterAndTypes(string json, string parameter, string message)
    {
        var (status, body) = await Host.CallAsync("/echo", json);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(parameter, Parameter(body));
        Assert.Contains(message, body.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task WrongTypePositional_Returns400()
    {
        var (status, body) = await Host.CallAsync("/call", """{"method":"add","args":["one"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("a", Parameter(body));
    }

    [Fact]
    public async Task NullForAParameterWithNoneDefault_IsAccepted_AsInTheOriginal()
    {
        var (status, body) = await Host.CallAsync("/none_default", """{"name":null,"count":null}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"name":null,"count":null}""", body.GetProperty("result").GetRawText());
        var (wrong, _) = await Host.CallAsync("/none_default", """{"name":5}""");
        Assert.Equal(HttpStatusCode.BadRequest, wrong);
    }

    [Fact]
    public async Task IntegersForFloats_AreAccepted()
    {
        var (status, body) = await Host.CallAsync("/add", """{"a":1,"b":2}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3, body.GetProperty("result").GetDouble());
    }
}
