using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Affinetes.ActorHost.Runtimes;
using Affinetes.Testing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.Extensions.DependencyInjection;

namespace Affinetes.ActorHost.Tests;

public sealed class CSharpShapesFixture : IAsyncLifetime
{
    public DirectoryInfo Cache { get; } = Directory.CreateTempSubdirectory("affinetes-cs-cache-");

    public HostUnderTest Host { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Host = await HostUnderTest.StartAsync("csharp/shapes/Actor.cs", o => o with { CacheDirectory = Cache.FullName });

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        Cache.Delete(recursive: true);
    }
}

/// <summary>A C# Actor compiled with Roslyn and served over real HTTP: every parameter and return shape, names, errors.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class CSharpRuntimeTests(CSharpShapesFixture fixture) : IClassFixture<CSharpShapesFixture>
{
    private HostUnderTest Host => fixture.Host;

    private async Task<JsonElement> ResultAsync(string path, string json)
    {
        var (status, body) = await Host.CallAsync(path, json);
        Assert.True(status == HttpStatusCode.OK, $"{path} answered {(int)status}: {body}");
        Assert.Equal("success", body.GetProperty("status").GetString());
        return body.GetProperty("result");
    }

    [Theory]
    [InlineData("/echo")]
    [InlineData("/Echo")]
    public async Task Method_IsCallableBySnakeCaseAndByItsOwnName(string path) =>
        Assert.Equal("""{"x":3,"text":"hi"}""", (await ResultAsync(path, """{"x":3}""")).GetRawText());

    [Fact]
    public async Task Call_WithPositionalAndKeywordArguments()
    {
        var result = await ResultAsync("/call", """{"method":"echo","args":[7],"kwargs":{"text":"yo"}}""");
        Assert.Equal("""{"x":7,"text":"yo"}""", result.GetRawText());
    }

    [Fact]
    public async Task Parameters_SnakeCaseAndCSharpNamesBothBind()
    {
        Assert.Equal("""{"x":3,"y":2}""", (await ResultAsync("/move", """{"point":{"x":1,"y":2},"dx":2}""")).GetRawText());
        var settings = await ResultAsync("/configure", """{"settings":{"name":"a","retry_count":3,"tags":["t"]}}""");
        Assert.Equal("""{"name":"a","retry_count":3,"tags":["t"]}""", settings.GetRawText());
        var camel = await ResultAsync("/configure", """{"settings":{"Name":"b","retryCount":4}}""");
        Assert.Equal(4, camel.GetProperty("retry_count").GetInt32());
    }

    [Fact]
    public async Task Primitives_Convert_AndNumbersMayComeAsStrings()
    {
        var result = await ResultAsync("/primitives", """{"i":"42","l":9007199254740993,"d":0.5,"b":true,"s":"x","f":2.5,"m":1.25,"c":"q"}""");
        Assert.Equal("""{"i":42,"l":9007199254740993,"d":0.5,"b":true,"s":"x","f":2.5,"m":1.25,"c":"q"}""", result.GetRawText());
    }

    [Fact]
    public async Task WholeFloatForAnInt_IsAccepted_AsTheOriginalPassesIt() =>
        Assert.Equal(600, (await ResultAsync("/doubled", """{"x":300.0}""")).GetInt32());

    [Fact]
    public async Task Enums_ByName_CaseInsensitive_AndWrittenByName()
    {
        Assert.Equal("Careful", (await ResultAsync("/flip", """{"mode":"fast"}""")).GetString());
        var (status, body) = await Host.CallAsync("/flip", """{"mode":1}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("mode", body.GetProperty("error").GetProperty("parameter").GetString());
    }

    [Fact]
    public async Task ArraysListsAndDictionaries()
    {
        Assert.Equal(6, (await ResultAsync("/sum", """{"values":[1,2,3]}""")).GetInt32());
        Assert.Equal("""["A","B"]""", (await ResultAsync("/upper", """{"words":["a","b"]}""")).GetRawText());
        Assert.Equal("""{"k":2}""", (await ResultAsync("/increment", """{"counts":{"k":1}}""")).GetRawText());
    }

    [Fact]
    public async Task NullableAndOptionalParameters()
    {
        Assert.Equal("""{"maybe":null,"label":null,"count":3}""", (await ResultAsync("/optional", "{}")).GetRawText());
        Assert.Equal("""{"maybe":null,"label":null,"count":3}""", (await ResultAsync("/optional", """{"maybe":null,"label":null}""")).GetRawText());
        Assert.Equal("""{"maybe":1,"label":"l","count":4}""", (await ResultAsync("/optional", """{"maybe":1,"label":"l","count":4}""")).GetRawText());
    }

    [Fact]
    public async Task NullForANonNullableParameter_Is400NamingIt()
    {
        var (status, body) = await Host.CallAsync("/required", """{"text":null}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("text", body.GetProperty("error").GetProperty("parameter").GetString());
        Assert.Contains("got null", body.GetProperty("error").GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("/echo", """{"x":"abc"}""", "x", "expects int")]
    [InlineData("/echo", "{}", "x", "missing a required argument: 'x'")]
    [InlineData("/echo", """{"x":1,"nope":2}""", "nope", "unexpected keyword argument 'nope'")]
    [InlineData("/move", """{"point":{"x":"far"}}""", "point", "expects Point")]
    [InlineData("/call", """{"method":"echo","args":[1,"a","b"]}""", "args", "takes 2 positional arguments but 3 were given")]
    [InlineData("/call", """{"method":"echo","args":[1],"kwargs":{"x":2}}""", "x", "multiple values for argument 'x'")]
    public async Task BadArguments_Are400NamingTheParameter(string path, string json, string parameter, string message)
    {
        var (status, body) = await Host.CallAsync(path, json);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_arguments", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(parameter, body.GetProperty("error").GetProperty("parameter").GetString());
        Assert.Contains(message, body.GetProperty("error").GetProperty("message").GetString());
    }

    /// <summary>
    /// /call bodies bind in one reader pass when every argument is plain, and through a JSON document otherwise:
    /// the edges between the two give what the document path gives.
    /// </summary>
    [Theory]
    [InlineData("""{"method":"echo","kwargs":{"x":3}}""", 200, """{"x":3,"text":"hi"}""")]
    [InlineData("""{"kwargs":{"x":1,"x":2},"method":"echo"}""", 400, "multiple values for argument 'x'")]
    [InlineData("""{"method":"echo","kwargs":{"\u0078":5}}""", 200, """{"x":5,"text":"hi"}""")]
    [InlineData("""{"method":"echo","args":null,"kwargs":{"x":1,"text":null}}""", 400, "got null")]
    [InlineData("""{"method":"echo","args":[2],"kwargs":null}""", 200, """{"x":2,"text":"hi"}""")]
    [InlineData("""{"method":"echo","kwargs":[1]}""", 400, "'kwargs' must be a JSON object")]
    [InlineData("""{"method":"echo","args":{"x":1}}""", 400, "'args' must be a JSON array")]
    [InlineData("""{"method":"echo","kwargs":{"x":1}} []""", 400, "not valid JSON")]
    [InlineData("""{"method":"doubled","kwargs":{"x":300.0}}""", 200, "600")]
    [InlineData("""{"method":"doubled","kwargs":{"x":3000000000}}""", 400, "expects int")]
    [InlineData("""{"method":"optional","kwargs":{"maybe":null,"count":4}}""", 200, """{"maybe":null,"label":null,"count":4}""")]
    [InlineData("""{"method":"primitives","kwargs":{"i":"42","l":1,"d":1,"b":false,"s":"\"q\""}}""", 200, """{"i":42,"l":1,"d":1.0,"b":false,"s":"\"q\"","f":1.5,"m":2.5,"c":"z"}""")]
    [InlineData("""{"method":"echo","kwargs":{"x":1,"a_keyword_argument_whose_name_is_longer_than_sixty_four_characters_long":1}}""", 400, "unexpected keyword argument 'a_keyword_argument_whose")]
    public async Task CallBodies_BindAlike_WhetherPlainOrNot(string json, int status, string expected)
    {
        var (answered, body) = await Host.CallAsync("/call", json);
        Assert.Equal(status, (int)answered);
        if (status == 200)
        {
            Assert.Equal(expected, body.GetProperty("result").GetRawText());
        }
        else
        {
            Assert.Contains(expected, body.GetProperty("error").GetProperty("message").GetString());
        }
    }

    [Fact]
    public async Task ExtraArguments_ReceivesUndeclaredKeywords() =>
        Assert.Equal("""{"a":1,"rest":["b","c"]}""", (await ResultAsync("/extra", """{"a":1,"c":null,"b":[1]}""")).GetRawText());

    [Fact]
    public async Task Returns_VoidTaskTaskOfTValueTaskAnonymousJsonNodeJsonElement()
    {
        Assert.Equal(JsonValueKind.Null, (await ResultAsync("/nothing", "{}")).ValueKind);
        Assert.Equal(JsonValueKind.Null, (await ResultAsync("/later", "{}")).ValueKind);
        Assert.Equal(10, (await ResultAsync("/doubled", """{"x":5}""")).GetInt32());
        Assert.Equal("hey!", (await ResultAsync("/shout", """{"s":"hey"}""")).GetString());
        Assert.Equal("""{"task_id":1,"items":[1,2]}""", (await ResultAsync("/anonymous", "{}")).GetRawText());
        Assert.Equal("""{"a":1,"b":[true,null]}""", (await ResultAsync("/node", "{}")).GetRawText());
        Assert.Equal("""[1,"x"]""", (await ResultAsync("/element", "{}")).GetRawText());
        Assert.Equal("3.0", (await ResultAsync("/whole", "{}")).GetRawText());
        Assert.Equal("from base", (await ResultAsync("/inherited", "{}")).GetString());
    }

    [Theory]
    [InlineData("secret")]
    [InlineData("Secret")]
    [InlineData("internal")]
    [InlineData("static_method")]
    [InlineData("StaticMethod")]
    [InlineData("counter")]
    [InlineData("get_Counter")]
    [InlineData("set_counter")]
    [InlineData("to_string")]
    [InlineData("ToString")]
    [InlineData("get_hash_code")]
    [InlineData("GetType")]
    [InlineData("dispose")]
    [InlineData("Dispose")]
    [InlineData("equals")]
    public async Task HiddenMembers_AreNeverCallable(string name)
    {
        var (status, body) = await Host.CallAsync("/call", $"{{\"method\":\"{name}\",\"args\":[],\"kwargs\":{{}}}}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("method_not_found", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task ActorException_Is500ActorErrorWithTypeAndMessage_NoStack()
    {
        var (status, body) = await Host.CallAsync("/fail", """{"message":"bad input"}""");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        var error = body.GetProperty("error");
        Assert.Equal("actor_error", error.GetProperty("code").GetString());
        Assert.Equal("ArgumentException", error.GetProperty("type").GetString());
        Assert.Equal("bad input", error.GetProperty("message").GetString());
        Assert.False(error.TryGetProperty("traceback", out _));
    }

    [Fact]
    public async Task NaNResult_IsResultNotSerializable()
    {
        var (status, body) = await Host.CallAsync("/not_json", "{}");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("result_not_serializable", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Deadline_CancelsTheCallsToken_And504()
    {
        var (status, body) = await Host.CallAsync("/wait", """{"ms":20000}""", new Dictionary<string, string> { ["X-Affinetes-Timeout"] = "0.3" });
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Equal("deadline_exceeded", body.GetProperty("error").GetProperty("code").GetString());
        await Bounded.Until(async () => (await ResultAsync("/was_cancelled", "{}")).GetString() == "yes", TimeSpan.FromSeconds(10), "the actor seeing its token cancelled");
    }

    [Fact]
    public async Task Deadline_AnswersEvenWhenTheActorIgnoresItsToken()
    {
        var (status, _) = await Host.CallAsync("/ignores_token", """{"ms":20000}""", new Dictionary<string, string> { ["X-Affinetes-Timeout"] = "0.3" });
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
    }

    [Fact]
    public async Task Methods_ShowCSharpSignaturesAsJsonTypes()
    {
        var methods = (await Host.Client.GetFromJsonAsync<JsonElement>("/methods")).GetProperty("methods").EnumerateArray().ToList();
        Assert.DoesNotContain(methods, m => m.GetProperty("name").GetString() is "secret" or "dispose" or "to_string" or "counter" or "static_method");
        var echo = methods.Single(m => m.GetProperty("name").GetString() == "echo");
        Assert.Equal("(int x, string text = \"hi\") -> object", echo.GetProperty("signature").GetString());
        Assert.Equal("Echoes its arguments.", echo.GetProperty("description").GetString());
        Assert.Equal("""["Echo"]""", echo.GetProperty("aliases").GetRawText());
        var parameters = echo.GetProperty("parameters").EnumerateArray().ToList();
        Assert.Equal(("x", "integer", true), (parameters[0].GetProperty("name").GetString(), parameters[0].GetProperty("type").GetString(), parameters[0].GetProperty("required").GetBoolean()));
        Assert.Equal("hi", parameters[1].GetProperty("default").GetString());
        var wait = methods.Single(m => m.GetProperty("name").GetString() == "wait");
        Assert.True(wait.GetProperty("is_async").GetBoolean());
        Assert.Single(wait.GetProperty("parameters").EnumerateArray()); // the CancellationToken is not an argument
        var extra = methods.Single(m => m.GetProperty("name").GetString() == "extra");
        Assert.Equal("var_keyword", extra.GetProperty("parameters")[1].GetProperty("kind").GetString());

        var openApi = await Host.Client.GetFromJsonAsync<JsonElement>("/openapi.json");
        var schema = openApi.GetProperty("paths").GetProperty("/move").GetProperty("post").GetProperty("requestBody")
            .GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.Equal("object", schema.GetProperty("properties").GetProperty("point").GetProperty("type").GetString());
        Assert.Equal(1, schema.GetProperty("properties").GetProperty("dx").GetProperty("default").GetInt32());
    }

    [Fact]
    public async Task SecondStart_LoadsTheCompiledActorFromTheCache()
    {
        Assert.Contains("compiled", Host.Services.GetRequiredService<IActorRuntime>().StartupTimings);
        await using var again = await HostUnderTest.StartAsync("csharp/shapes/Actor.cs", o => o with { CacheDirectory = fixture.Cache.FullName });
        Assert.Contains("compile cache hit", again.Services.GetRequiredService<IActorRuntime>().StartupTimings);
        Assert.Equal(10, (await again.CallAsync("/doubled", """{"x":5}""")).Body.GetProperty("result").GetInt32());
    }
}

/// <summary>C# actors that cannot be served say why; extra libraries are referenced and loaded.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class CSharpStartupTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-cs-start-");

    public void Dispose() => _work.Delete(recursive: true);

    private Task<HostUnderTest> StartAsync(string envFile) => HostUnderTest.StartAsync(envFile, o => o with { CacheDirectory = Path.Combine(_work.FullName, "cache") }, waitReady: false);

    [Fact]
    public async Task CompileErrors_MakeReady503_WithFileLineColumnForEachError()
    {
        await using var host = await StartAsync("csharp/broken/Actor.cs");
        var ready = await host.WaitForStateAsync("failed");
        var reason = ready.GetProperty("reason").GetString()!;
        Assert.Contains("does not compile (2 errors)", reason);
        Assert.Matches(@"Actor\.cs:3:41: error CS0103: The name 'c' does not exist", reason);
        Assert.Matches(@"Actor\.cs:4:29: error CS0029: Cannot implicitly convert type 'int' to 'string'", reason);
    }

    [Fact]
    public async Task Overloads_AreALoadErrorNamingThem()
    {
        await using var host = await StartAsync("csharp/overloads/Actor.cs");
        var reason = (await host.WaitForStateAsync("failed")).GetProperty("reason").GetString()!;
        Assert.Contains("Score(int) and Score(int, int) are all served as 'score'", reason);
    }

    [Fact]
    public async Task ConstructorException_FailsTheStartWithItsMessage()
    {
        await using var host = await StartAsync("csharp/ctor_fails/Actor.cs");
        var reason = (await host.WaitForStateAsync("failed")).GetProperty("reason").GetString()!;
        Assert.Equal("Failed to initialize Actor: InvalidOperationException: no model configured", reason);
    }

    [Fact]
    public async Task LibraryInLibFolder_IsReferencedAndLoaded()
    {
        var env = Directory.CreateDirectory(Path.Combine(_work.FullName, "with-lib"));
        var lib = Directory.CreateDirectory(Path.Combine(env.FullName, "lib"));
        var library = CSharpCompilation.Create("Mathx",
            [CSharpSyntaxTree.ParseText("namespace Mathx; public static class Twice { public static int Of(int x) => 2 * x; }")],
            [MetadataReference.CreateFromFile(typeof(object).Assembly.Location), MetadataReference.CreateFromFile(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "System.Runtime.dll"))],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var emitted = library.Emit(Path.Combine(lib.FullName, "Mathx.dll"));
        Assert.True(emitted.Success, string.Join('\n', emitted.Diagnostics));
        File.WriteAllText(Path.Combine(env.FullName, "Actor.cs"), "public class Actor { public int Twice(int x) => Mathx.Twice.Of(x); }");

        await using var host = await StartAsync(Path.Combine(env.FullName, "Actor.cs"));
        await host.WaitForStateAsync("ok");
        Assert.Equal(42, (await host.CallAsync("/twice", """{"x":21}""")).Body.GetProperty("result").GetInt32());
    }
}
