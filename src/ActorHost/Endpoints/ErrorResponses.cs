using System.Text.Json;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Endpoints;

/// <summary>Error answers in one stable shape: <c>{"detail": ..., "error": {"code", "message", ...}}</c>.</summary>
internal static class ErrorResponses
{
    public static int StatusFor(string code) => code switch
    {
        ErrorCodes.InvalidJson or ErrorCodes.InvalidArguments => StatusCodes.Status400BadRequest,
        ErrorCodes.Unauthorized => StatusCodes.Status401Unauthorized,
        ErrorCodes.MethodNotFound => StatusCodes.Status404NotFound,
        ErrorCodes.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorCodes.Overloaded or ErrorCodes.NotReady or ErrorCodes.ShuttingDown => StatusCodes.Status503ServiceUnavailable,
        ErrorCodes.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };

    public static async Task<int> WriteAsync(HttpContext context, int status, ErrorDetail error)
    {
        var detail = error.Type is null ? error.Message : $"{error.Type}: {error.Message}";
        if (error.Traceback is not null)
        {
            detail += "\n" + error.Traceback;
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, new ErrorResponse { Detail = detail, Error = error },
            ProtocolJson.Wire.ErrorResponse, context.RequestAborted);
        return status;
    }
}
