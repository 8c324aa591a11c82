using System.Security.Cryptography;
using System.Text;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Endpoints;

/// <summary>
/// Optional bearer-token check in front of every endpoint but <c>/health</c>. Both tokens are hashed first so the
/// comparison takes the same time whatever the length or content of the guess.
/// </summary>
internal sealed class BearerAuthentication(string token)
{
    private readonly byte[] _expected = SHA256.HashData(Encoding.UTF8.GetBytes(token));

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (context.Request.Path.Equals(WireRoutes.Health, StringComparison.Ordinal) || IsAuthorized(context.Request.Headers.Authorization.ToString()))
        {
            await next(context);
            return;
        }
        context.Response.Headers.WWWAuthenticate = "Bearer";
        await ErrorResponses.WriteAsync(context, StatusCodes.Status401Unauthorized, new ErrorDetail
        {
            Code = ErrorCodes.Unauthorized,
            Message = "this host requires 'Authorization: Bearer <token>'",
        });
    }

    private bool IsAuthorized(string header)
    {
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(presented, _expected);
    }
}
