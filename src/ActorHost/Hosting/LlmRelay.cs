using System.Net.Sockets;
using Affinetes.Protocol;
using Microsoft.AspNetCore.Connections;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// The actor's way to the LLM gateway in a container without network: Kestrel accepts connections on
/// 127.0.0.1:<see cref="HostEnvironment.LlmRelayPort"/> and this handler joins each, as it is, to the gateway's unix
/// socket (<see cref="HostEnvironment.LlmSocket"/>, bind-mounted). It relays at the connection level, so plain HTTP
/// (<c>OPENAI_BASE_URL=http://127.0.0.1:PORT/v1</c>), streaming and the gateway's CONNECT tunnels (<c>HTTPS_PROXY</c>)
/// pass alike; the gateway's token checks and limits apply to everything that comes through.
/// </summary>
internal sealed partial class LlmRelay(string socketPath, ILogger<LlmRelay> logger)
{
    /// <summary>Joins <paramref name="connection"/> to the gateway until either side closes.</summary>
    public async Task RelayAsync(ConnectionContext connection)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // Not ConnectionClosed either: an actor that sends its request and half-closes at once would cancel the
            // connect before it was made (seen in CI). A unix socket connect is immediate or fails; the bound is a guard.
            using var connectLimit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), connectLimit.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            LogUnreachable(logger, socketPath, e.Message);
            return;
        }
        await using var gateway = new NetworkStream(socket, ownsSocket: false);
        // Not linked to ConnectionClosed: Kestrel fires it when the actor half-closes, and the answer must still come back.
        using var stop = new CancellationTokenSource();
        var toGateway = ForwardAsync(connection.Transport.Input.AsStream(), gateway, () => socket.Shutdown(SocketShutdown.Send), stop.Token);
        var toActor = ForwardAsync(gateway, connection.Transport.Output.AsStream(), () => { }, stop.Token);
        // The actor finishing its side (half-close) is passed on and the answer still comes back; the gateway closing
        // ends the connection.
        if (await Task.WhenAny(toGateway, toActor) == toGateway)
        {
            await toActor;
        }
        await stop.CancelAsync();
        await toGateway;
    }

    private static async Task ForwardAsync(Stream from, Stream to, Action finished, CancellationToken cancellationToken)
    {
        try
        {
            await from.CopyToAsync(to, cancellationToken);
            finished();
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or ConnectionResetException)
        {
            // One side went away: the other is closed when the relay returns.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the LLM gateway's socket {Path} cannot be reached: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string path, string reason);
}
