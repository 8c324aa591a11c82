using System.Security.Cryptography;
using System.Text;
using Affinetes.ActorHost.Hosting;
using Microsoft.Net.Http.Headers;

namespace Affinetes.ActorHost.Endpoints.Docs;

/// <summary>
/// <c>GET /docs</c>: an interactive page over <c>/methods</c> and <c>/call</c>, and its script and style sheet. The
/// three files are embedded in the host and read on first request (nothing at start-up). They hold nothing of the
/// environment: the page asks <c>/methods</c> from the browser, with the token typed in when the host requires one,
/// so they are served without the token and reveal no more than <c>GET /health</c> (that this is an Affinetes host,
/// and whether it wants a token, which any 401 says too).
/// </summary>
internal sealed class DocsPage(ActorHostOptions options)
{
    public const string PagePath = "/docs";
    public const string ScriptPath = "/docs/docs.js";
    public const string StylePath = "/docs/docs.css";

    // The page itself is revalidated on each visit (cheap: 304); the assets it names carry their content hash in the
    // query, so a browser keeps them for a year and a new host version is fetched anew.
    private const string PageCaching = "no-cache";
    private const string AssetCaching = "public, max-age=31536000, immutable";

    // Only the host's own files run; the page only talks to its host; nothing may frame it.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private readonly Lazy<Asset> _script = new(() => Asset.Of(Read("docs.js"), "text/javascript; charset=utf-8", AssetCaching));
    private readonly Lazy<Asset> _style = new(() => Asset.Of(Read("docs.css"), "text/css; charset=utf-8", AssetCaching));
    private Asset? _page;

    /// <summary>True for the paths this page serves, which need no token.</summary>
    public static bool IsPublic(PathString path) =>
        path.Equals(PagePath, StringComparison.Ordinal) || path.Equals(ScriptPath, StringComparison.Ordinal) || path.Equals(StylePath, StringComparison.Ordinal);

    public Task Page(HttpContext context) => WriteAsync(context, _page ??= BuildPage(), isPage: true);

    public Task Script(HttpContext context) => WriteAsync(context, _script.Value, isPage: false);

    public Task Style(HttpContext context) => WriteAsync(context, _style.Value, isPage: false);

    private Asset BuildPage()
    {
        var version = Convert.ToHexStringLower(SHA256.HashData([.. _script.Value.Bytes, .. _style.Value.Bytes]))[..16];
        var html = Encoding.UTF8.GetString(Read("index.html"))
            .Replace("{{version}}", version, StringComparison.Ordinal)
            .Replace("{{auth}}", options.ExpectedTokenHash is null ? "none" : "required", StringComparison.Ordinal);
        return Asset.Of(Encoding.UTF8.GetBytes(html), "text/html; charset=utf-8", PageCaching);
    }

    private static Task WriteAsync(HttpContext context, Asset asset, bool isPage)
    {
        var response = context.Response;
        var headers = response.Headers;
        headers.ETag = asset.ETag;
        headers.CacheControl = asset.CacheControl;
        headers.XContentTypeOptions = "nosniff";
        if (isPage)
        {
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers["Referrer-Policy"] = "no-referrer";
        }
        if (EntityTagHeaderValue.TryParseList(context.Request.Headers.IfNoneMatch, out var tags)
            && tags.Any(t => t.Equals(EntityTagHeaderValue.Any) || t.Tag.Equals(asset.ETag, StringComparison.Ordinal)))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Bytes.Length;
        return response.Body.WriteAsync(asset.Bytes, context.RequestAborted).AsTask();
    }

    private static byte[] Read(string name)
    {
        using var stream = typeof(DocsPage).Assembly.GetManifestResourceStream("docs/" + name)
            ?? throw new InvalidOperationException($"the host was built without its docs/{name} resource");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private sealed record Asset(byte[] Bytes, string ContentType, string CacheControl, string ETag)
    {
        public static Asset Of(byte[] bytes, string contentType, string cacheControl) =>
            new(bytes, contentType, cacheControl, "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..20] + "\"");
    }
}
