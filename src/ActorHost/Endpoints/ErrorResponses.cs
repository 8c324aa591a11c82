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

    /// <summary>A body for an answer the framework gave without one (404 no route, 405 wrong HTTP method, 400).</summary>
    public static Task WriteFrameworkAnswerAsync(HttpContext context)
    {
        var status = context.Response.StatusCode;
        var request = $"{context.Request.Method} {context.Request.Path}";
        var (code, message) = status switch
        {
            StatusCodes.Status404NotFound => (ErrorCodes.NotFound, $"no such endpoint: {request}; the host serves GET /health, /ready, /methods, /openapi.json, /docs and POST /call, POST /METHOD"),
            StatusCodes.Status405MethodNotAllowed => (ErrorCodes.HttpMethodNotAllowed, $"{request}: wrong HTTP method for this endpoint (Allow: {context.Response.Headers.Allow})"),
            _ => (ErrorCodes.BadRequest, $"{request} answered {status}"),
        };
        return WriteAsync(context, status, new ErrorDetail { Code = code, Message = message });
    }

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
