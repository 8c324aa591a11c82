using System.Net;
using System.Text;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Pooling;

namespace Affinetes.ValidatorClient.Tests.Pooling;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class WireAnswerTests
{
    private static byte[] Body(string json) => Encoding.UTF8.GetBytes(json);

    [Fact]
    public void SuccessEnvelope_GivesTheResult() =>
        Assert.Equal(3, WireAnswer.Read("m", HttpStatusCode.OK, Body("{\"status\":\"success\",\"result\":{\"task_id\":3},\"error\":null}"), null).GetProperty("task_id").GetInt32());

    [Theory]
    [InlineData("{\"status\":\"success\",\"result\":null,\"error\":null}")]
    [InlineData("{\"status\":\"success\"}")]
    public void AMethodThatReturnedNothing_GivesJsonNull(string body) =>
        Assert.Equal(System.Text.Json.JsonValueKind.Null, WireAnswer.Read("m", HttpStatusCode.OK, Body(body), null).ValueKind);

    [Fact]
    public void TheOriginalsFailedEnvelope_IsARemoteError_WithItsReason()
    {
        var e = Assert.Throws<RemoteActorException>(() => WireAnswer.Read("evaluate", HttpStatusCode.OK,
            Body("{\"status\":\"failed\",\"result\":{\"error\":\"Task execution exceeded timeout of 1s (+10s grace)\"}}"), null));
        Assert.Equal("Task execution exceeded timeout of 1s (+10s grace)", e.RemoteMessage);
        Assert.Equal("failed", e.Code);
    }

    [Fact]
    public void ABodyWithoutEnvelope_IsTheResult_AsHttpBasedEnvironmentsAnswer() =>
        Assert.Equal(1, WireAnswer.Read("step", HttpStatusCode.OK, Body("{\"observation\":1}"), null).GetProperty("observation").GetInt32());

    [Fact]
    public void NotFound_KeepsTheHostsMessage()
    {
        var e = Assert.Throws<MethodNotFoundException>(() => WireAnswer.Read("evalute", HttpStatusCode.NotFound,
            Body("{\"detail\":\"x\",\"error\":{\"code\":\"method_not_found\",\"message\":\"Method not found: evalute; did you mean evaluate? methods: evaluate, generate\"}}"), null));
        Assert.Equal("evalute", e.Method);
        Assert.Contains("did you mean evaluate?", e.Message);
    }

    [Fact]
    public void NotFound_OfTheOriginal_SaysWhichMethod() =>
        Assert.Equal("the environment has no method 'nope'",
            Assert.Throws<MethodNotFoundException>(() => WireAnswer.Read("nope", HttpStatusCode.NotFound, Body("{\"detail\":\"Method not found: nope\"}"), null)).Message);

    [Fact]
    public void BadRequest_NamesTheParameter()
    {
        var e = Assert.Throws<BadArgumentsException>(() => WireAnswer.Read("echo", HttpStatusCode.BadRequest,
            Body("{\"detail\":\"x\",\"error\":{\"code\":\"invalid_arguments\",\"message\":\"echo() expects x: integer\",\"parameter\":\"x\"}}"), null));
        Assert.Equal("x", e.Parameter);
    }

    [Fact]
    public void GatewayTimeout_IsTheServerSideDeadline()
    {
        var e = Assert.Throws<DeadlineExceededException>(() => WireAnswer.Read("slow", HttpStatusCode.GatewayTimeout,
            Body("{\"detail\":\"x\",\"error\":{\"code\":\"deadline_exceeded\",\"message\":\"late\"}}"), TimeSpan.FromSeconds(2)));
        Assert.Equal(TimeSpan.FromSeconds(2), e.Deadline);
    }

    [Fact]
    public void Unauthorized_IsAnAuthenticationError() =>
        Assert.False(Assert.Throws<EnvironmentAuthenticationException>(() => WireAnswer.Read("m", HttpStatusCode.Unauthorized,
            Body("{\"detail\":\"x\",\"error\":{\"code\":\"unauthorized\",\"message\":\"token\"}}"), null)).IsRetryable);

    [Fact]
    public void ActorError_CarriesTypeMessageAndCode()
    {
        var e = Assert.Throws<RemoteActorException>(() => WireAnswer.Read("fail", HttpStatusCode.InternalServerError,
            Body("{\"detail\":\"boom\",\"error\":{\"code\":\"actor_error\",\"message\":\"model refused\",\"type\":\"ValueError\"}}"), null));
        Assert.Equal(("ValueError", "model refused", "actor_error", 500), (e.RemoteType, e.RemoteMessage, e.Code, e.StatusCode));
    }

    [Fact]
    public void NonJson_SaysWhatCame() =>
        Assert.Contains("non-JSON: <html>", Assert.Throws<RemoteActorException>(() => WireAnswer.Read("m", HttpStatusCode.InternalServerError, Body("<html>oops</html>"), null)).Message);

    [Theory]
    [InlineData(HttpStatusCode.BadGateway, "<html>bad gateway</html>")]
    [InlineData(HttpStatusCode.ServiceUnavailable, "no healthy upstream")]
    [InlineData(HttpStatusCode.GatewayTimeout, "")]
    public void AProxysAnswer_WithoutTheHosts_IsATransportFailure_NotTheActors(HttpStatusCode status, string body)
    {
        // Basilica's ingress (or any proxy) with no ready pod behind it: the actor never ran the call.
        var e = Assert.Throws<HttpRequestException>(() => WireAnswer.Read("m", status, Body(body), null));
        Assert.Equal(status, e.StatusCode);
        Assert.Contains($"a proxy in front of the environment answered {(int)status}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"error\":{\"code\":\"overloaded\",\"message\":\"busy\"}}", "overloaded")]
    [InlineData("{\"error\":{\"code\":\"shutting_down\",\"message\":\"bye\"}}", "shutting_down")]
    [InlineData("{\"error\":{\"code\":\"actor_error\",\"message\":\"boom\"}}", null)]
    [InlineData("not json", null)]
    public void Refusal_IsOnlyAnAnswerThatDidNotRunTheCall(string body, string? refusal) => Assert.Equal(refusal, WireAnswer.Refusal(Body(body)));

    [Fact]
    public void StartupFailure_ReadsTheHostsReason()
    {
        Assert.Equal("ImportError: no numpy", WireAnswer.StartupFailure(Body("{\"status\":\"failed\",\"reason\":\"ImportError: no numpy\"}")));
        Assert.Null(WireAnswer.StartupFailure(Body("{\"status\":\"starting\"}")));
    }
}
