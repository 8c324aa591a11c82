using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Affinetes.ActorHost.Hosting;
using Affinetes.ActorHost.Runtimes;
using Affinetes.ActorHost.Runtimes.Sidecar;
using Affinetes.Protocol;
using Affinetes.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Affinetes.ActorHost.Tests;

/// <summary>The sidecar runtime over real HTTP with a real child server (Python's http.server): forwarding, OpenAPI, supervision.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class SidecarRuntimeTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-sidecar-");

    public void Dispose() => _work.Delete(recursive: true);

    private string LogFile => Path.Combine(_work.FullName, "events.log");

    private string[] Events => File.Exists(LogFile) ? File.ReadAllLines(LogFile) : [];

    private Task<HostUnderTest> StartAsync(string[] flags, Func<ActorHostOptions, ActorHostOptions>? configure = null, bool waitReady = true) =>
        HostUnderTest.StartAsync("sidecar_server.py", o =>
        {
            o = o with { SidecarCommand = ["python3", HostUnderTest.EnvPath("sidecar_server.py"), "--log", LogFile, .. flags] };
            return configure?.Invoke(o) ?? o;
        }, waitReady);

    [Fact]
    public async Task Calls_AreForwardedToTheServersPostMethod_AndWrappedInTheEnvelope()
    {
        await using var host = await StartAsync(["--openapi"]);
        var (status, body) = await host.CallAsync("/echo", """{"x":1,"label":"a"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("success", body.GetProperty("status").GetString());
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse("""{"x":1,"label":"a"}""").RootElement, body.GetProperty("result").GetProperty("got")));

        var (callStatus, call) = await host.CallAsync("/call", """{"method":"echo","args":[],"kwargs":{"x":2}}""");
        Assert.Equal(HttpStatusCode.OK, callStatus);
        Assert.Equal(2, call.GetProperty("result").GetProperty("got").GetProperty("x").GetInt32());

        var (positional, error) = await host.CallAsync("/call", """{"method":"echo","args":[1]}""");
        Assert.Equal(HttpStatusCode.BadRequest, positional);
        Assert.Contains("keyword arguments only", error.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task OpenApi_IsTheServersOwnDocument_AndMethodsComeFromIt()
    {
        await using var host = await StartAsync(["--openapi"]);
        var runtime = (SidecarRuntime)host.Services.GetRequiredService<IActorRuntime>();
        using var direct = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var own = await direct.GetStringAsync($"http://127.0.0.1:{runtime.Port}/openapi.json");
        Assert.Equal(own, await host.Client.GetStringAsync("/openapi.json"));

        var methods = (await host.Client.GetFromJsonAsync<JsonElement>("/methods")).GetProperty("methods").EnumerateArray().ToList();
        Assert.Equal(["echo", "slow"], methods.Select(m => m.GetProperty("name").GetString()));
        var echo = methods[0];
        Assert.Equal("Echoes its arguments.", echo.GetProperty("description").GetString());
        var parameters = echo.GetProperty("parameters").EnumerateArray().ToList();
        Assert.Equal(("x", "integer", true), (parameters[0].GetProperty("name").GetString(), parameters[0].GetProperty("type").GetString(), parameters[0].GetProperty("required").GetBoolean()));
        Assert.Equal(("label", "string", false), (parameters[1].GetProperty("name").GetString(), parameters[1].GetProperty("type").GetString(), parameters[1].GetProperty("required").GetBoolean()));
    }

    [Fact]
    public async Task WithoutOpenApi_DeclaredMethodsAreServed_AndUndeclaredOnesAre404()
    {
        await using var host = await StartAsync([], o => o with { SidecarMethods = ["echo", "fail", "strict", "text"] });
        var methods = (await host.Client.GetFromJsonAsync<JsonElement>("/methods")).GetProperty("methods").EnumerateArray().Select(m => m.GetProperty("name").GetString());
        Assert.Equal(["echo", "fail", "strict", "text"], methods);
        Assert.Equal(HttpStatusCode.NotFound, (await host.CallAsync("/slow", "{}")).Status);
        Assert.Equal("\"plain words\"", (await host.CallAsync("/text", "{}")).Body.GetProperty("result").GetRawText());
    }

    [Fact]
    public async Task AnAnswerOverTheResultLimit_IsCutOffAndRefused_TheServerServesOn()
    {
        await using var host = await StartAsync([], o => o with { SidecarMethods = ["big", "echo"], MaxResultBytes = 256 * 1024 });
        var (status, body) = await host.CallAsync("/big", """{"size": 50000000}""");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal(ErrorCodes.ResultTooLarge, body.GetProperty("error").GetProperty("code").GetString());
        Assert.StartsWith("the sidecar's answer to big passed the host's limit of 256 KiB", body.GetProperty("error").GetProperty("message").GetString());
        (status, body) = await host.CallAsync("/big", """{"size": 1000}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1000, body.GetProperty("result").GetString()!.Length);
    }

    [Fact]
    public async Task ServerErrors_KeepTheirMessage_422NamesTheParameter()
    {
        await using var host = await StartAsync([], o => o with { SidecarMethods = ["fail", "strict"] });
        var (status, body) = await host.CallAsync("/fail", "{}");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal(("actor_error", "broken inside", "HTTP 500"), (body.GetProperty("error").GetProperty("code").GetString(),
            body.GetProperty("error").GetProperty("message").GetString(), body.GetProperty("error").GetProperty("type").GetString()));
        var (strict, invalid) = await host.CallAsync("/strict", "{}");
        Assert.Equal(HttpStatusCode.BadRequest, strict);
        Assert.Equal("task_id", invalid.GetProperty("error").GetProperty("parameter").GetString());
        Assert.Equal("task_id: Field required", invalid.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task AuthIsEnforcedInFront_AndTheTokenNeverReachesTheServer()
    {
        await using var host = await StartAsync(["--openapi"], o => o with { AuthToken = "s3cret" }, waitReady: false);
        using (var anonymous = new HttpClient { BaseAddress = host.Address, Timeout = TimeSpan.FromSeconds(10) })
        {
            using var refused = await anonymous.PostAsync("/echo", new StringContent("""{"x":1}"""));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }
        host.Client.DefaultRequestHeaders.Authorization = new("Bearer", "s3cret");
        await host.WaitForStateAsync("ok");
        var (status, body) = await host.CallAsync("/echo", """{"x":1}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("result").GetProperty("authorization").ValueKind);
        var runtime = (SidecarRuntime)host.Services.GetRequiredService<IActorRuntime>();
        Assert.Equal(runtime.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), body.GetProperty("result").GetProperty("port").GetString());
    }

    [Fact]
    public async Task Deadline_AbortsTheForwardedRequest()
    {
        await using var host = await StartAsync(["--openapi"]);
        var (status, body) = await host.CallAsync("/slow", """{"seconds":20}""", new Dictionary<string, string> { ["X-Affinetes-Timeout"] = "0.5" });
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Equal("deadline_exceeded", body.GetProperty("error").GetProperty("code").GetString());
        await Bounded.Until(() => Task.FromResult(Events.Contains("slow: client went away")), TimeSpan.FromSeconds(10), "the server seeing the request aborted");
    }

    [Fact]
    public async Task ServerCrash_IsRestarted_ReadyReportsRestartingMeanwhile()
    {
        await using var host = await StartAsync(["--openapi"]);
        var first = (await host.CallAsync("/echo", """{"x":1}""")).Body.GetProperty("result").GetProperty("pid").GetInt32();
        var runtime = (SidecarRuntime)host.Services.GetRequiredService<IActorRuntime>();
        using (var direct = new HttpClient { Timeout = TimeSpan.FromSeconds(5) })
        {
            try
            {
                await direct.PostAsync($"http://127.0.0.1:{runtime.Port}/crash", new StringContent("{}")); // not in its document: crash it directly
            }
            catch (HttpRequestException)
            {
                // the server died answering
            }
        }
        var sawRestarting = false;
        await Bounded.Until(async () =>
        {
            using var response = await host.Client.GetAsync("/ready");
            var state = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString();
            sawRestarting |= state == "restarting";
            return sawRestarting && state == "ok";
        }, TimeSpan.FromSeconds(20), "the sidecar restarting and becoming ready again");
        var second = (await host.CallAsync("/echo", """{"x":1}""")).Body.GetProperty("result").GetProperty("pid").GetInt32();
        Assert.NotEqual(first, second);
        Assert.Equal(2, Events.Count(e => e.StartsWith("sidecar up", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ServerThatNeverOpensItsPort_FailsTheStartWithItsLastLines()
    {
        await using var host = await StartAsync(["--never-listen"], o => o with { SidecarStartTimeout = TimeSpan.FromSeconds(6) }, waitReady: false);
        var reason = (await host.WaitForStateAsync("failed")).GetProperty("reason").GetString()!;
        Assert.Contains("did not open port", reason);
        Assert.Contains("not listening", reason);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await host.CallAsync("/echo", "{}")).Status);
    }

    [Fact]
    public async Task ServerThatExitsAtStart_IsTriedAgain_ThenFailsWithItsOutput()
    {
        await using var host = await StartAsync(["--exit-at-start"], waitReady: false);
        var reason = (await host.WaitForStateAsync("failed")).GetProperty("reason").GetString()!;
        Assert.Contains("exited with code 2 before opening port", reason);
        Assert.Contains("start 3 of 3", reason);
        Assert.Contains("cannot start: missing configuration", reason);
    }

    [Fact]
    public async Task MissingCommand_FailsTheStartSayingWhatToFix()
    {
        await using var host = await HostUnderTest.StartAsync("sidecar_server.py", o => o with { SidecarCommand = ["/nonexistent/server"] }, waitReady: false);
        var reason = (await host.WaitForStateAsync("failed")).GetProperty("reason").GetString()!;
        Assert.Contains("cannot be started", reason);
    }
}
