using System.Net;
using Affinetes.LlmGateway.Hosting;
using Affinetes.Protocol;
using Yarp.ReverseProxy.Forwarder;

namespace Affinetes.LlmGateway.Proxy;

/// <summary>
/// YARP's header copying, plus what makes the gateway safe: the environment's token and the gateway's own headers
/// are replaced by the real key on the way up, and on the way back no header or error body carries that key.
/// </summary>
internal sealed class UpstreamTransformer(Uri destination, UpstreamKey? key, Exchange exchange) : HttpTransformer
{
    /// <summary>Request headers that are the gateway's business, never the upstream's.</summary>
    private static readonly string[] Withheld = ["Authorization", "Proxy-Authorization", "api-key", "x-api-key", "Cookie", GatewayHeaders.Task,
        // The answer is read on its way through (usage, masking): it must come uncompressed.
        "Accept-Encoding"];

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        proxyRequest.RequestUri = destination;
        foreach (var header in Withheld)
        {
            proxyRequest.Headers.Remove(header);
        }
        if (key is not null)
        {
            proxyRequest.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key.Value);
        }
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        var copyBody = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        if (proxyResponse is null)
        {
            return copyBody;
        }
        exchange.UpstreamStatus = (int)proxyResponse.StatusCode;
        if (key is not null)
        {
            List<string>? leaking = null;
            foreach (var (name, values) in httpContext.Response.Headers)
            {
                foreach (var value in values)
                {
                    if (value?.Contains(key.Value, StringComparison.Ordinal) == true)
                    {
                        (leaking ??= []).Add(name);
                    }
                }
            }
            leaking?.ForEach(name => httpContext.Response.Headers.Remove(name));
        }
        var mediaType = proxyResponse.Content.Headers.ContentType?.MediaType;
        if (exchange.UsageAdded && mediaType == "text/event-stream")
        {
            httpContext.Response.ContentLength = null; // an event is removed from the stream
        }
        proxyResponse.Content = new ObservedContent(proxyResponse.Content, exchange, proxyResponse.StatusCode, mediaType, key?.Value);
        return copyBody;
    }

    /// <summary>The upstream's content, read through a <see cref="ResponseObserver"/>.</summary>
    private sealed class ObservedContent(HttpContent inner, Exchange exchange, HttpStatusCode status, string? mediaType, string? key) : HttpContent
    {
        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
            new ResponseObserver(await inner.ReadAsStreamAsync(cancellationToken), exchange, status, mediaType, key);

        protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await using var observed = await CreateContentReadStreamAsync(CancellationToken.None);
            await observed.CopyToAsync(stream);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
