using System.Net.Http.Headers;

namespace Affinetes.ValidatorClient.Miners.Substrate;

/// <summary>JSON-RPC over HTTP POST, one request per call, on a client of its own.</summary>
internal sealed class HttpJsonRpc : JsonRpcConnection
{
    private readonly HttpClient _http;

    public HttpJsonRpc(Uri url, TimeSpan timeout) : base(url, timeout)
    {
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = timeout, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            // Each call has its own deadline (the caller's token with the request timeout).
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
            MaxResponseContentBufferSize = MaxAnswerBytes,
        };
    }

    protected override async Task<byte[]> ExchangeAsync(string method, byte[] request, int id, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(request);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await _http.PostAsync(Url, content, cancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var text = System.Text.Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 300)).ReplaceLineEndings(" ").Trim();
            throw new MinersSourceException($"the subtensor node at {Url} answered {method} with HTTP {(int)response.StatusCode}{(text.Length == 0 ? "" : $": {text}")}");
        }
        return body;
    }

    public override ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
