using System.Globalization;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Affinetes.ValidatorClient.Miners.Substrate;

/// <summary>The node answered a JSON-RPC request with an error object.</summary>
internal sealed class JsonRpcException(string method, int code, string remoteMessage)
    : Exception($"{method} failed: {remoteMessage} (JSON-RPC error {code})")
{
    public string Method { get; } = method;
    public int Code { get; } = code;
    public string RemoteMessage { get; } = remoteMessage;

    /// <summary>The node does not offer the method (JSON-RPC's "method not found").</summary>
    public bool IsMethodNotFound => Code == -32601;
}

/// <summary>
/// A JSON-RPC 2.0 connection to a Substrate node, over a websocket (<c>ws://</c>, <c>wss://</c>) or HTTP POST
/// (<c>http://</c>, <c>https://</c>). Requests go one at a time, each bounded by the request timeout; a node that
/// cannot be reached or does not answer in time raises a retryable <see cref="MinersSourceException"/>.
/// </summary>
internal abstract class JsonRpcConnection(Uri url, TimeSpan timeout) : IAsyncDisposable
{
    /// <summary>An answer larger than this is refused (the metadata, the largest, is a few MiB as hex).</summary>
    protected const int MaxAnswerBytes = 64 << 20;

    private int _requests;

    public Uri Url => url;

    public TimeSpan Timeout => timeout;

    /// <summary>Requests sent so far.</summary>
    public int Requests => _requests;

    public static async Task<JsonRpcConnection> OpenAsync(Uri url, TimeSpan timeout, CancellationToken cancellationToken) =>
        url.Scheme is "ws" or "wss"
            ? await WebSocketJsonRpc.ConnectAsync(url, timeout, cancellationToken)
            : new HttpJsonRpc(url, timeout);

    /// <summary>Calls <paramref name="method"/> and returns its <c>result</c> (JSON null included).</summary>
    public async Task<JsonElement> CallAsync(string method, JsonArray parameters, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _requests);
        var request = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["jsonrpc"] = "2.0",
            ["id"] = id,
            ["method"] = method,
            ["params"] = parameters,
        }.ToJsonString());
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        byte[] answer;
        try
        {
            answer = await ExchangeAsync(method, request, id, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MinersSourceException($"the subtensor node at {url} did not answer {method} within {timeout.TotalSeconds:0.###} s", retryable: true);
        }
        catch (Exception e) when (e is HttpRequestException or WebSocketException or IOException or SocketException)
        {
            throw Unreachable(e);
        }
        return Result(method, answer);
    }

    /// <summary>Sends one request and returns the bytes of the answer whose id is <paramref name="id"/>.</summary>
    protected abstract Task<byte[]> ExchangeAsync(string method, byte[] request, int id, CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();

    protected MinersSourceException Unreachable(Exception e) =>
        new($"cannot reach the subtensor node at {url}: {Reason(e)}", retryable: true, e);

    protected MinersSourceException Malformed(string method, string what) =>
        new($"the subtensor node at {url} answered {method} with {what}; is it a Substrate JSON-RPC endpoint?");

    private JsonElement Result(string method, byte[] answer)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(answer);
        }
        catch (JsonException)
        {
            throw Malformed(method, "something that is not JSON");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Malformed(method, "JSON that is not a JSON-RPC answer");
            }
            if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                var code = error.TryGetProperty("code", out var c) && c.TryGetInt32(out var n) ? n : 0;
                var message = error.TryGetProperty("message", out var m) ? m.ToString() : "(no message)";
                if (error.TryGetProperty("data", out var data) && data.ValueKind != JsonValueKind.Null)
                {
                    message += $": {data}";
                }
                throw new JsonRpcException(method, code, message);
            }
            return root.TryGetProperty("result", out var result)
                ? result.Clone()
                : throw Malformed(method, "neither a result nor an error");
        }
    }

    /// <summary>The reason in the words of the socket ("Connection refused"), else of the innermost exception.</summary>
    private static string Reason(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
            {
                return socket.Message;
            }
        }
        var innermost = e;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }
        return innermost.Message;
    }

    /// <summary>A block number as the node writes it in headers ("0x63fe87") or as a plain number.</summary>
    public static long ParseNumber(JsonElement number) => number.ValueKind switch
    {
        JsonValueKind.Number when number.TryGetInt64(out var n) => n,
        JsonValueKind.String when number.GetString() is { } s && s.StartsWith("0x", StringComparison.Ordinal)
            && long.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var h) => h,
        _ => throw new FormatException($"'{number}' is not a block number"),
    };
}
