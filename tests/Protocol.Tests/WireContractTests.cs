using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.Testing;

namespace Affinetes.Protocol.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class WireContractTests
{
    [Fact]
    public void CallEnvelope_SerialisesLikeTheOriginal()
    {
        var envelope = new CallEnvelope { Status = CallStatus.Success, Result = JsonDocument.Parse("{\"score\":1}").RootElement };
        var json = JsonSerializer.Serialize(envelope, ProtocolJson.Default.CallEnvelope);
        Assert.Equal("{\"status\":\"success\",\"result\":{\"score\":1}}", json);
    }

    [Fact]
    public void CallRequest_ReadsMethodArgsKwargs()
    {
        var request = JsonSerializer.Deserialize("{\"method\":\"evaluate\",\"args\":[1],\"kwargs\":{\"model\":\"m\"}}", ProtocolJson.Default.CallRequest)!;
        Assert.Equal("evaluate", request.Method);
        Assert.Equal(1, request.Args![0].GetInt32());
        Assert.Equal("m", request.Kwargs!["model"].GetString());
    }

    [Fact]
    public void ErrorResponse_KeepsDetailAndCode()
    {
        var error = new ErrorResponse
        {
            Detail = "Method not found: nope",
            Error = new ErrorDetail { Code = ErrorCodes.MethodNotFound, Message = "Method not found: nope", Method = "nope" },
        };
        using var doc = JsonDocument.Parse(JsonSerializer.Serialize(error, ProtocolJson.Default.ErrorResponse));
        Assert.Equal("Method not found: nope", doc.RootElement.GetProperty("detail").GetString());
        Assert.Equal("method_not_found", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.False(doc.RootElement.GetProperty("error").TryGetProperty("traceback", out _));
    }

    [Fact]
    public void GatewayTaskBaseUrl_PutsTheTaskBeforeV1_AndRefusesIdsThatBreakAUrl()
    {
        Assert.Equal("http://127.0.0.1:8090/tasks/17/v1", GatewayRoutes.TaskBaseUrl("http://127.0.0.1:8090/v1/", "17"));
        Assert.Equal("http://127.0.0.1:8090/tasks/sat:3.a_b-c/v1", GatewayRoutes.TaskBaseUrl("http://127.0.0.1:8090/v1", "sat:3.a_b-c"));
        Assert.Throws<ArgumentException>(() => GatewayRoutes.TaskBaseUrl("http://127.0.0.1:8090/v1", "a/b"));
        Assert.Throws<ArgumentException>(() => GatewayRoutes.TaskBaseUrl("http://127.0.0.1:8090/v1", ""));
        Assert.Throws<ArgumentException>(() => GatewayRoutes.TaskBaseUrl("http://127.0.0.1:8090/api", "1"));
    }
}
