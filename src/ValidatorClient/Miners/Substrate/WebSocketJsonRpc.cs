using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;

namespace Affinetes.ValidatorClient.Miners.Substrate;

/// <summary>JSON-RPC over one websocket, kept open for the calls of one read and closed after.</summary>
internal sealed class WebSocketJsonRpc : JsonRpcConnection
{
    private readonly ClientWebSocket _socket;

    private WebSocketJsonRpc(Uri url, TimeSpan timeout, ClientWebSocket socket) : base(url, timeout) => _socket = socket;

    public static async Task<WebSocketJsonRpc> ConnectAsync(Uri url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        var connection = new WebSocketJsonRpc(url, timeout, socket);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(url, deadline.Token);
            return connection;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new MinersSourceException($"cannot reach the subtensor node at {url}: no connection within {timeout.TotalSeconds:0.###} s", retryable: true);
        }
        catch (Exception e) when (e is WebSocketException or HttpRequestException or IOException)
        {
            socket.Dispose();
            throw connection.Unreachable(e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    protected override async Task<byte[]> ExchangeAsync(string method, byte[] request, int id, CancellationToken cancellationToken)
    {
        await _socket.SendAsync(request, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        while (true)
        {
            var message = await ReceiveAsync(method, cancellationToken);
            // Subscription notifications and stray answers have another id (or none): not ours.
            if (IdOf(message) == id)
            {
                return message;
            }
        }
    }

    private async Task<byte[]> ReceiveAsync(string method, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(64 << 10);
        while (true)
        {
            var result = await _socket.ReceiveAsync(buffer.GetMemory(64 << 10), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new MinersSourceException($"the subtensor node at {Url} closed the connection while answering {method}" +
                    (string.IsNullOrEmpty(_socket.CloseStatusDescription) ? "" : $": {_socket.CloseStatusDescription}"), retryable: true);
            }
            buffer.Advance(result.Count);
            if (buffer.WrittenCount > MaxAnswerBytes)
            {
                throw Malformed(method, $"an answer larger than {MaxAnswerBytes >> 20} MiB");
            }
            if (result.EndOfMessage)
            {
                return buffer.WrittenSpan.ToArray();
            }
        }
    }

    private static int? IdOf(byte[] message)
    {
        try
        {
            var reader = new Utf8JsonReader(message);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isId = reader.ValueTextEquals("id"u8);
                reader.Read();
                if (isId)
                {
                    return reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var id) ? id : null;
                }
                reader.Skip();
            }
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", bound.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            // Closing politely is a courtesy; the socket is released below either way.
        }
        _socket.Dispose();
    }
}
