using Affinetes.ActorHost.Hosting;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Endpoints;

/// <summary>
/// The outermost middleware: every answer carries the host's version header, and an answer the framework gave
/// without a body (404 no such route, 405 wrong HTTP method) gets the host's JSON error shape. It does what
/// <c>UseStatusCodePages</c> plus a header middleware did, in one step and without a feature object per call.
/// </summary>
internal static class HostAnswers
{
    public static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        context.Response.Headers[WireHeaders.HostVersion] = HostInfo.Version;
        await next(context);
        var response = context.Response;
        // As UseStatusCodePages: only an error status with nothing written or declared yet.
        if (!response.HasStarted && response.StatusCode is >= 400 and < 600 && response.ContentLength is null && string.IsNullOrEmpty(response.ContentType))
        {
            await ErrorResponses.WriteFrameworkAnswerAsync(context);
        }
    }
}
