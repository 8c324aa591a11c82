using System.Diagnostics;
using System.Net;
using Yarp.ReverseProxy.Forwarder;

namespace Affinetes.ActorHost.Runtimes.Sidecar;

/// <summary>The sidecar's answer passed the result limit: at least <see cref="Read"/> bytes, of <see cref="Limit"/>.</summary>
internal sealed class AnswerTooLargeException(long read, long limit) : IOException($"the answer passed {limit} bytes")
{
    public long Read { get; } = read;
    public long Limit { get; } = limit;
}

/// <summary>What the sidecar answered to one forwarded call.</summary>
internal readonly record struct ForwardedAnswer(int Status, byte[] Body, ForwarderError Error, Exception? Failure);

/// <summary>
/// Forwards calls to the sidecar's <c>POST /{method}</c> through YARP's <see cref="IHttpForwarder"/> over pooled
/// keep-alive connections to 127.0.0.1. The endpoint layer has already authenticated, limited and read the call; the
/// forwarder gets it as a request of its own (the JSON arguments, nothing of the caller's headers, so the host's token
/// never reaches the server) and hands back the answer for the endpoint layer to wrap.
/// </summary>
internal sealed class SidecarForwarder : IDisposable
{
    private static readonly ForwarderRequestConfig RequestConfig = new()
    {
        // Calls may legitimately run for many minutes without a byte; the call's deadline is what bounds them.
        ActivityTimeout = TimeSpan.FromDays(1),
        Version = HttpVersion.Version11,
        VersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    private readonly ServiceProvider _services;
    private readonly IHttpForwarder _forwarder;
    private readonly HttpMessageInvoker _client;

    private readonly long _maxAnswerBytes;

    public SidecarForwarder(int port, long maxAnswerBytes)
    {
        _maxAnswerBytes = maxAnswerBytes;
        _services = new ServiceCollection().AddLogging().AddHttpForwarder().BuildServiceProvider();
        _forwarder = _services.GetRequiredService<IHttpForwarder>();
        _client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        });
        Destination = $"http://127.0.0.1:{port}";
    }

    /// <summary><c>http://127.0.0.1:PORT</c>.</summary>
    public string Destination { get; }

    /// <summary>The client the forwarder uses, for the runtime's own requests (its OpenAPI document).</summary>
    public HttpMessageInvoker Client => _client;

    /// <summary>POSTs <paramref name="json"/> to <c>/{method}</c>; cancelling <paramref name="cancellationToken"/> aborts the request.</summary>
    public async Task<ForwardedAnswer> PostAsync(string method, byte[] json, CancellationToken cancellationToken)
    {
        var context = new DefaultHttpContext();
        var request = context.Request;
        request.Protocol = "HTTP/1.1";
        request.Method = HttpMethods.Post;
        request.Scheme = "http";
        request.Host = new HostString("127.0.0.1");
        request.Path = "/" + method;
        request.ContentType = "application/json";
        request.ContentLength = json.Length;
        request.Body = new MemoryStream(json, writable: false);
        var answer = new BoundedBuffer(_maxAnswerBytes);
        context.Response.Body = answer;
        context.RequestAborted = cancellationToken;

        var error = await _forwarder.SendAsync(context, Destination, _client, RequestConfig, HttpTransformer.Empty, cancellationToken).ConfigureAwait(false);
        var failure = error == ForwarderError.None ? null : context.Features.Get<IForwarderErrorFeature>()?.Exception;
        if (answer.Overflowed)
        {
            return new ForwardedAnswer(context.Response.StatusCode, [], ForwarderError.ResponseBodyDestination, new AnswerTooLargeException(answer.Length, _maxAnswerBytes));
        }
        return new ForwardedAnswer(context.Response.StatusCode, answer.ToArray(), error, failure);
    }

    /// <summary>Keeps an answer up to a size; the write that would pass it fails, so the forwarder stops reading.</summary>
    private sealed class BoundedBuffer(long limit) : Stream
    {
        private readonly MemoryStream _kept = new();

        public bool Overflowed { get; private set; }

        public override long Length => _kept.Length;

        public byte[] ToArray() => _kept.ToArray();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_kept.Length + buffer.Length > limit)
            {
                Overflowed = true;
                throw new AnswerTooLargeException(_kept.Length + buffer.Length, limit);
            }
            _kept.Write(buffer);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Position { get => _kept.Length; set => throw new NotSupportedException(); }
        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    public void Dispose()
    {
        _client.Dispose();
        _services.Dispose();
    }
}
