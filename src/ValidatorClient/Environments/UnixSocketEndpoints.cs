using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;

namespace Affinetes.ValidatorClient.Environments;

/// <summary>
/// Replicas reached through a unix socket (isolated containers have no network): each socket gets a host name of
/// its own under <see cref="Domain"/>, and the connect callback of every environment's HTTP handler
/// (<see cref="HttpClients.CreateHandler"/>) opens that socket instead of a TCP connection for it. The rest of the
/// client (pool, probes, calls) sees an ordinary <c>http://</c> base URL.
/// <para>
/// A container of the local engine with a network serves on a socket too, beside its published port: the port
/// stays its address (what afs prints, what a browser opens), and this client's own connections to that port
/// take the socket instead (<see cref="AddShortcut"/>). A published port goes through docker-proxy, a userland
/// copy of every byte in both directions: 4 replicas at 256 calls in flight reached 59% of the ideal rate through
/// it against 81% for the same calls through sockets.
/// </para>
/// </summary>
internal static class UnixSocketEndpoints
{
    /// <summary>The pseudo-domain of socket host names (<c>.invalid</c> never resolves, so nothing leaks to DNS).</summary>
    public const string Domain = "unix.affinetes.invalid";

    private static readonly ConcurrentDictionary<string, string> Sockets = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>"127.0.0.1:PORT" of a published port, and the socket of the same container.</summary>
    private static readonly ConcurrentDictionary<string, string> Shortcuts = new(StringComparer.OrdinalIgnoreCase);
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

    /// <summary>
    /// This client's connections to <paramref name="baseUrl"/> (a published port) go to <paramref name="socketPath"/>
    /// instead; a path longer than a socket address holds (107 bytes: a long container name) keeps the port.
    /// </summary>
    public static void AddShortcut(Uri baseUrl, string socketPath)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(socketPath) <= MaxSocketPathBytes)
        {
            Shortcuts[baseUrl.Authority] = socketPath;
        }
    }

    /// <summary>sun_path holds 108 bytes on Linux, the last one a NUL.</summary>
    private const int MaxSocketPathBytes = 107;

    /// <summary>Forgets the shortcuts to sockets in <paramref name="directory"/> (its container is gone).</summary>
    public static void RemoveShortcutsInto(string directory)
    {
        foreach (var (authority, path) in Shortcuts)
        {
            if (Path.GetDirectoryName(path) == directory)
            {
                Shortcuts.TryRemove(authority, out _);
            }
        }
    }

    /// <summary>The socket behind <paramref name="host"/>, when it is one of ours.</summary>
    public static bool TryGetSocket(string host, out string socketPath) => Sockets.TryGetValue(host, out socketPath!);

    /// <summary><see cref="SocketsHttpHandler.ConnectCallback"/>: our socket host names go to their socket, any other host over TCP as usual.</summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        if (TryGetSocket(context.DnsEndPoint.Host, out var path))
        {
            return await ConnectUnixAsync(path, cancellationToken);
        }
        if (Shortcuts.TryGetValue($"{context.DnsEndPoint.Host}:{context.DnsEndPoint.Port.ToString(CultureInfo.InvariantCulture)}", out var shortcut))
        {
            try
            {
                return await ConnectUnixAsync(shortcut, cancellationToken);
            }
            catch (Exception e) when (e is SocketException or IOException or ArgumentException)
            {
                // Not there (yet, or a host without socket support): the published port as usual.
            }
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
