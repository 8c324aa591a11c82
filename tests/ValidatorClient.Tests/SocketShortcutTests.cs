using System.Net;
using System.Net.Sockets;
using System.Text;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>
/// A published port with a socket beside it (a local engine's container): this client's connections to the port
/// take the socket, and take the port as usual when the socket is not there.
/// </summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class SocketShortcutTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("affinetes-shortcut-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact]
    public async Task ConnectionsToAShortcutPort_GoToItsSocket()
    {
        var socketPath = Path.Combine(_directory.FullName, "host.sock");
        using var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        server.Bind(new UnixDomainSocketEndPoint(socketPath));
        server.Listen();
        var answering = AnswerOnceAsync(server, "socket");
        var url = new Uri($"http://127.0.0.1:{UnusedPort()}/");
        UnixSocketEndpoints.AddShortcut(url, socketPath);
        try
        {
            using var http = new HttpClient(HttpClients.CreateHandler(verifyTls: true));
            Assert.Equal("socket", await http.GetStringAsync(new Uri(url, "health")).Within());
            await answering.Within();
        }
        finally
        {
            UnixSocketEndpoints.RemoveShortcutsInto(_directory.FullName);
        }
    }

    [Fact]
    public async Task AShortcutWhoseSocketIsMissing_FallsBackToThePort()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var answering = AnswerOnceAsync(listener, "port");
        var url = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndPoint!).Port}/");
        UnixSocketEndpoints.AddShortcut(url, Path.Combine(_directory.FullName, "missing.sock"));
        try
        {
            using var http = new HttpClient(HttpClients.CreateHandler(verifyTls: true));
            Assert.Equal("port", await http.GetStringAsync(new Uri(url, "health")).Within());
            await answering.Within();
        }
        finally
        {
            UnixSocketEndpoints.RemoveShortcutsInto(_directory.FullName);
        }
    }

    private static int UnusedPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port; // closed again: nothing listens there
    }

    /// <summary>Accepts one connection, reads one request's head and answers 200 with <paramref name="body"/>.</summary>
    private static async Task AnswerOnceAsync(Socket listener, string body)
    {
        using var connection = await listener.AcceptAsync();
        var buffer = new byte[4096];
        var received = 0;
        while (!Encoding.ASCII.GetString(buffer, 0, received).Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            received += await connection.ReceiveAsync(buffer.AsMemory(received));
        }
        await connection.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}"));
    }

    [Fact]
    public async Task AShortcutToASocketPathTooLongForAnAddress_IsNotTaken_ThePortIs()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var answering = AnswerOnceAsync(listener, "port");
        var url = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndPoint!).Port}/");
        // A container named after an image digest: its socket's path is longer than sun_path's 108 bytes.
        UnixSocketEndpoints.AddShortcut(url, Path.Combine(_directory.FullName, "afs-client-pulled-sha256-" + new string('f', 64) + "-0", "host.sock"));
        try
        {
            using var http = new HttpClient(HttpClients.CreateHandler(verifyTls: true));
            Assert.Equal("port", await http.GetStringAsync(new Uri(url, "health")).Within());
            await answering.Within();
        }
        finally
        {
            UnixSocketEndpoints.RemoveShortcutsInto(_directory.FullName);
        }
    }
}
