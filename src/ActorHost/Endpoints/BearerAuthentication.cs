using System.Security.Cryptography;
using System.Text;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Endpoints;

/// <summary>
/// Optional bearer-token check in front of every endpoint but <c>GET /health</c> and the <c>/docs</c> page's own
/// files, which hold nothing of the environment (<see cref="Docs.DocsPage"/>); any other HTTP method on those paths
/// needs the token like everything else. The host holds only the token's SHA-256: a presented token is hashed
/// and compared in constant time.
/// </summary>
internal sealed class BearerAuthentication(byte[] expectedSha256)
{
    private readonly byte[] _expected = expectedSha256;

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        var openProbe = (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
            && (request.Path.Equals(WireRoutes.Health, StringComparison.Ordinal) || Docs.DocsPage.IsPublic(request.Path));
        if (openProbe || IsAuthorized(request.Headers.Authorization.ToString()))
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
