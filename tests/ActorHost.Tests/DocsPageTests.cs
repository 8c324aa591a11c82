using System.Net;
using System.Net.Http.Headers;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

/// <summary><c>GET /docs</c> over HTTP: what it reveals without the token, and how it is cached.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class DocsPageTests
{
    private static readonly string[] PagePaths = ["/docs", "/docs/docs.js", "/docs/docs.css"];

    [Fact]
    public async Task Docs_WithAuthOn_IsServedWithoutTheToken_AndHoldsNothingOfTheEnvironment()
    {
        await using var python = await HostUnderTest.StartAsync("protocol_env.py", o => o with { AuthToken = "s3cret-token" }, waitReady: false);
        await using var csharp = await HostUnderTest.StartAsync("csharp/csharp-arith/Actor.cs", o => o with { AuthToken = "another-token" }, waitReady: false);
        foreach (var path in PagePaths)
        {
            using var fromPython = await python.Client.GetAsync(path).Within();
            using var fromCSharp = await csharp.Client.GetAsync(path).Within();
            Assert.Equal(HttpStatusCode.OK, fromPython.StatusCode);
            Assert.Equal(HttpStatusCode.OK, fromCSharp.StatusCode);
            // Byte for byte the same page for two environments of two kinds: nothing of either is in it.
            Assert.Equal(await fromPython.Content.ReadAsByteArrayAsync(), await fromCSharp.Content.ReadAsByteArrayAsync());
        }
        var page = await python.Client.GetStringAsync("/docs").Within();
        Assert.Contains("data-auth=\"required\"", page, StringComparison.Ordinal);

        using (var methods = await python.Client.GetAsync("/methods").Within())
        {
            Assert.Equal(HttpStatusCode.Unauthorized, methods.StatusCode);
        }
        // Only GET is open: a POST to the page's path is a call like any other and needs the token.
        var (status, body) = await python.CallAsync("/docs", "{}");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("unauthorized", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Docs_Assets_CarryCachingHeaders_AndAnswer304ToTheirETag()
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py");
        using var page = await host.Client.GetAsync("/docs").Within();
        Assert.Equal("text/html; charset=utf-8", page.Content.Headers.ContentType!.ToString());
        Assert.True(page.Headers.CacheControl!.NoCache);
        Assert.Contains("script-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Contains("data-auth=\"none\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The page names its assets by content hash, so they may be kept for good.
        var html = await page.Content.ReadAsStringAsync();
        var script = System.Text.RegularExpressions.Regex.Match(html, "/docs/docs\\.js\\?v=[0-9a-f]{16}").Value;
        Assert.NotEmpty(script);
        using var first = await host.Client.GetAsync(script).Within();
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("text/javascript; charset=utf-8", first.Content.Headers.ContentType!.ToString());
        Assert.Equal(TimeSpan.FromDays(365), first.Headers.CacheControl!.MaxAge);
        Assert.True(first.Headers.CacheControl.Public);
        Assert.Equal("nosniff", first.Headers.GetValues("X-Content-Type-Options").Single());
        var etag = first.Headers.ETag!;

        using var again = new HttpRequestMessage(HttpMethod.Get, script);
        again.Headers.IfNoneMatch.Add(etag);
        using var revalidated = await host.Client.SendAsync(again).Within();
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Empty(await revalidated.Content.ReadAsByteArrayAsync());

        using var stale = new HttpRequestMessage(HttpMethod.Get, "/docs/docs.css");
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"not-this-one\""));
        using var fresh = await host.Client.SendAsync(stale).Within();
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        Assert.Equal("text/css; charset=utf-8", fresh.Content.Headers.ContentType!.ToString());
    }

    [Fact]
    public async Task Docs_IsNamedAmongTheHostsRoutes_AndAnActorMethodNamedDocsStaysCallable()
    {
        await using var host = await HostUnderTest.StartAsync("protocol_env.py");
        using var unknown = await host.Client.GetAsync("/no/such/page").Within();
        Assert.Contains("/docs", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // POST /docs is still the flat route of a method called docs: this actor has none, so it is a 404 naming it.
        var (status, body) = await host.CallAsync("/docs", "{}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("method_not_found", body.GetProperty("error").GetProperty("code").GetString());
    }
}
