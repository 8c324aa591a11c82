using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;

namespace Affinetes.ValidatorClient.Environments;

/// <summary>
/// Replicas reached through a unix socket (isolated containers have no network): each socket gets a host name of
/// its own under <see cref="Domain"/>, and the connect callback of every environment's HTTP handler
/// (<see cref="HttpClients.CreateHandler"/>) opens that socket instead of a TCP connection for it. The rest of the
/// client (pool, probes, calls) sees an ordinary <c>http://</c> base URL.
/// </summary>
internal static class UnixSocketEndpoints
{
    /// <summary>The pseudo-domain of socket host names (<c>.invalid</c> never resolves, so nothing leaks to DNS).</summary>
    public const string Domain = "unix.affinetes.invalid";

    private static readonly ConcurrentDictionary<string, string> Sockets = new(StringComparer.OrdinalIgnoreCase);
    private static long _next;

    /// <summary>The base URL that reaches <paramref name="socketPath"/>; the same path gives the same URL.</summary>
    public static Uri Register(string socketPath)
    {
        foreach (var (host, path) in Sockets)
        {
            if (path == socketPath)
            {
                return new Uri($"http://{host}/");
            }
        }
        var name = $"s{Interlocked.Increment(ref _next).ToString(CultureInfo.InvariantCulture)}.{Domain}";
        Sockets[name] = socketPath;
        return new Uri($"http://{name}/");
    }

    /// <summary>Forgets a socket's host name (its replica is gone).</summary>
    public static void Unregister(Uri baseUrl) => Sockets.TryRemove(baseUrl.Host, out _);

    /// <summary>The socket behind <paramref name="host"/>, when it is one of ours.</summary>
    public static bool TryGetSocket(string host, out string socketPath) => Sockets.TryGetValue(host, out socketPath!);

    /// <summary><see cref="SocketsHttpHandler.ConnectCallback"/>: our socket host names go to their socket, any other host over TCP as usual.</summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        if (TryGetSocket(context.DnsEndPoint.Host, out var path))
        {
            return await ConnectUnixAsync(path, cancellationToken);
        }
        var tcp = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(context.DnsEndPoint, cancellationToken);
            return new NetworkStream(tcp, ownsSocket: true);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>A stream over a new connection to the unix socket <paramref name="path"/>.</summary>
    public static async Task<Stream> ConnectUnixAsync(string path, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
