using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Affinetes.LlmGateway.Tenants;
using Microsoft.AspNetCore.Connections;

namespace Affinetes.LlmGateway.Egress;

/// <summary>
/// The egress allow-list: an HTTP CONNECT forward proxy on the API listeners that opens tunnels only to the hosts
/// in the environment's <c>egress_hosts</c>. The environment authenticates with its token as
/// <c>Proxy-Authorization</c> (<c>Basic</c> with the token as password, as <c>HTTPS_PROXY=http://x:TOKEN@HOST:PORT</c>
/// sends it, or <c>Bearer</c>). Kestrel does not hand a CONNECT request's connection to the application and YARP has
/// no forward proxy, so this sits in front of Kestrel's HTTP layer as connection middleware: a connection whose first
/// bytes are <c>CONNECT </c> is a tunnel; any other goes on to HTTP untouched.
/// </summary>
internal sealed partial class ConnectTunnel(ITenantRegistry registry, ILogger<ConnectTunnel> logger)
{
    private const int MaxHeadBytes = 16 * 1024;
    private static readonly TimeSpan FirstBytesTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);
    private static ReadOnlySpan<byte> ConnectMethod => "CONNECT "u8;
    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    /// <summary>Kestrel connection middleware: tunnels CONNECT connections, passes every other one to <paramref name="next"/>.</summary>
    public ConnectionDelegate Wrap(ConnectionDelegate next) => async connection =>
    {
        var input = connection.Transport.Input;
        using var firstBytes = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        firstBytes.CancelAfter(FirstBytesTimeout);
        ReadResult read;
        try
        {
            while (true)
            {
                read = await input.ReadAsync(firstBytes.Token);
                var buffer = read.Buffer;
                if (buffer.Length >= ConnectMethod.Length || read.IsCompleted)
                {
                    break;
                }
                input.AdvanceTo(buffer.Start, buffer.End); // need more bytes to tell
            }
        }
        catch (OperationCanceledException)
        {
            return; // silent connection
        }
        if (!StartsWithConnect(read.Buffer))
        {
            input.AdvanceTo(read.Buffer.Start); // nothing consumed: HTTP reads the same bytes
            await next(connection);
            return;
        }
        await TunnelAsync(connection, read, connection.ConnectionClosed);
    };

    private static bool StartsWithConnect(ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < ConnectMethod.Length)
        {
            return false;
        }
        Span<byte> start = stackalloc byte[8];
        buffer.Slice(0, ConnectMethod.Length).CopyTo(start);
        return start.SequenceEqual(ConnectMethod);
    }

    private async Task TunnelAsync(ConnectionContext connection, ReadResult read, CancellationToken cancellationToken)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        // The request head: CONNECT host:port HTTP/1.1, headers, blank line.
        string head;
        while (true)
        {
            var buffer = read.Buffer;
            var end = buffer.PositionOf((byte)'\n') is null ? -1 : IndexOf(buffer, HeadEnd);
            if (end >= 0)
            {
                head = Encoding.ASCII.GetString(buffer.Slice(0, end));
                input.AdvanceTo(buffer.GetPosition(end + HeadEnd.Length));
                break;
            }
            if (buffer.Length > MaxHeadBytes || read.IsCompleted)
            {
                await RespondAsync(output, "400 Bad Request", "the CONNECT request head is incomplete or too long", cancellationToken);
                return;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            read = await input.ReadAsync(cancellationToken);
        }

        var lines = head.Split("\r\n");
        var requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || !TrySplitAuthority(requestLine[1], out var host, out var port))
        {
            await RespondAsync(output, "400 Bad Request", "use CONNECT HOST:PORT HTTP/1.1", cancellationToken);
            return;
        }
        var environment = ProxyToken(lines) is { } token ? registry.FindByToken(token) : null;
        if (environment is null)
        {
            LogRefused("-", host, port, "no or unknown token");
            await RespondAsync(output, "407 Proxy Authentication Required", "give the environment's token as the proxy password (http://x:TOKEN@gateway)", cancellationToken,
                "Proxy-Authenticate: Basic realm=\"affinetes\"\r\n");
            return;
        }
        if (!environment.AllowsEgress(host, port))
        {
            environment.Usage.Reject("egress_denied");
            LogRefused(environment.Name, host, port, "not in the egress allow-list");
            await RespondAsync(output, "403 Forbidden", $"{host}:{port} is not in this environment's egress allow-list", cancellationToken);
            return;
        }

        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var connecting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connecting.CancelAfter(ConnectTimeout);
            await socket.ConnectAsync(host, port, connecting.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            LogRefused(environment.Name, host, port, "cannot connect: " + e.Message);
            await RespondAsync(output, "502 Bad Gateway", $"cannot connect to {host}:{port}", cancellationToken);
            return;
        }
        environment.Usage.Tunnel();
        LogTunnel(environment.Name, host, port);
        await output.WriteAsync("HTTP/1.1 200 Connection Established\r\n\r\n"u8.ToArray(), cancellationToken);

        await using var upstream = new NetworkStream(socket, ownsSocket: false);
        var up = Task.Run(async () =>
        {
            try
            {
                await input.CopyToAsync(upstream, cancellationToken);
            }
            finally
            {
                TryShutdown(socket);
            }
        }, CancellationToken.None);
        var down = Task.Run(async () =>
        {
            try
            {
                await upstream.CopyToAsync(output, cancellationToken);
            }
            finally
            {
                await output.CompleteAsync();
            }
        }, CancellationToken.None);
        try
        {
            await Task.WhenAll(up, down);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ConnectionResetException)
        {
            // Either side closing abruptly ends the tunnel; nothing to answer.
        }
    }

    private static void TryShutdown(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static int IndexOf(ReadOnlySequence<byte> buffer, ReadOnlySpan<byte> value)
    {
        var bytes = buffer.Length > MaxHeadBytes + value.Length ? buffer.Slice(0, MaxHeadBytes + value.Length).ToArray() : buffer.ToArray();
        return bytes.AsSpan().IndexOf(value);
    }

    private static bool TrySplitAuthority(string authority, out string host, out int port)
    {
        var colon = authority.LastIndexOf(':');
        host = colon > 0 ? authority[..colon].Trim('[', ']') : "";
        port = 0;
        return host.Length > 0 && int.TryParse(authority[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and <= 65535;
    }

    /// <summary>The token of <c>Proxy-Authorization: Basic base64(user:TOKEN)</c> or <c>Bearer TOKEN</c>.</summary>
    private static string? ProxyToken(IEnumerable<string> headerLines)
    {
        foreach (var line in headerLines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0 || !line[..colon].Trim().Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var value = line[(colon + 1)..].Trim();
            if (value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                return value[7..].Trim();
            }
            if (value.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
            {
                try
                {
                    var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value[6..].Trim()));
                    var separator = decoded.IndexOf(':');
                    return separator >= 0 ? decoded[(separator + 1)..] : decoded;
                }
                catch (FormatException)
                {
                    return null;
                }
            }
        }
        return null;
    }

    private static async Task RespondAsync(PipeWriter output, string status, string message, CancellationToken cancellationToken, string extraHeaders = "")
    {
        var body = Encoding.UTF8.GetBytes(message + "\n");
        var response = $"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: close\r\n{extraHeaders}\r\n";
        await output.WriteAsync(Encoding.ASCII.GetBytes(response), cancellationToken);
        await output.WriteAsync(body, cancellationToken);
        await output.CompleteAsync();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Environment} CONNECT {Host}:{Port} tunnel open")]
    private partial void LogTunnel(string environment, string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Environment} CONNECT {Host}:{Port} refused: {Reason}")]
    private partial void LogRefused(string environment, string host, int port, string reason);
}
