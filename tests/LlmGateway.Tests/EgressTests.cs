using System.Net.Sockets;

namespace Affinetes.LlmGateway.Tests;

/// <summary>The CONNECT forward proxy of the egress allow-list, against echo servers on 127.0.0.1 only.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class EgressTests
{
    /// <summary>A TCP server on 127.0.0.1 that echoes every line back with a prefix.</summary>
    private sealed class EchoServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public EchoServer()
        {
            _listener.Start();
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    TcpClient client;
                    try
                    {
                        client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    _ = Task.Run(async () =>
                    {
                        using (client)
                        {
                            var stream = client.GetStream();
                            var reader = new StreamReader(stream);
                            while (await reader.ReadLineAsync(_stop.Token) is { } line)
                            {
                                await stream.WriteAsync(Encoding.ASCII.GetBytes($"echo: {line}\n"), _stop.Token);
                            }
                        }
                    });
                }
            });
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            await _loop.Within();
        }
    }

    /// <summary>Sends a CONNECT over a fresh connection (TCP or the unix socket); returns the status line and the open stream.</summary>
    private static async Task<(string StatusLine, Stream Stream, StreamReader Reader)> ConnectAsync(Socket socket, EndPoint gateway, string target, string? proxyAuthorization)
    {
        await socket.ConnectAsync(gateway).Within();
        var stream = new NetworkStream(socket, ownsSocket: true);
        var head = $"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n" + (proxyAuthorization is null ? "" : $"Proxy-Authorization: {proxyAuthorization}\r\n") + "\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head)).AsTask().Within();
        var reader = new StreamReader(stream, Encoding.ASCII);
        var status = await reader.ReadLineAsync().Within(what: "the CONNECT answer") ?? "";
        while (await reader.ReadLineAsync().Within() is { Length: > 0 })
        {
        }
        return (status, stream, reader);
    }

    private static string Basic(string token) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("affinetes:" + token));

    [Fact]
    public async Task Connect_ToAnAllowedHost_Tunnels_ThroughTcpAndTheUnixSocket()
    {
        await using var echo = new EchoServer();
        await using var gateway = await StartAsync();
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith", EgressHosts = [$"127.0.0.1:{echo.Port}"] });

        var endpoints = new (Socket Socket, EndPoint EndPoint)[]
        {
            (new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp), new IPEndPoint(IPAddress.Loopback, gateway.ApiAddress.Port)),
            (new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified), new UnixDomainSocketEndPoint(gateway.SocketPath)),
        };
        foreach (var (socket, endpoint) in endpoints)
        {
            var (status, stream, reader) = await ConnectAsync(socket, endpoint, $"127.0.0.1:{echo.Port}", Basic(token));
            await using (stream)
            {
                Assert.Equal("HTTP/1.1 200 Connection Established", status);
                await stream.WriteAsync("hello through the tunnel\n"u8.ToArray()).AsTask().Within();
                Assert.Equal("echo: hello through the tunnel", await reader.ReadLineAsync().Within(what: "the echo"));
            }
        }
        Assert.Equal(2, (await gateway.UsageAsync("arith")).Tunnels);
        // The same listener still serves the API after tunnels.
        using var client = gateway.Api(token);
        using var response = await client.PostAsync("/v1/chat/completions", Json(ChatBody())).Within();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Connect_ToAHostNotInTheList_Returns403_AndWithoutTheToken407()
    {
        await using var allowed = new EchoServer();
        await using var other = new EchoServer();
        await using var gateway = await StartAsync();
        var token = await gateway.RegisterAsync(new GatewayTenant { Name = "arith", EgressHosts = [$"127.0.0.1:{allowed.Port}"] });
        var noEgress = await gateway.RegisterAsync(new GatewayTenant { Name = "isolated" });
        var gatewayEndpoint = new IPEndPoint(IPAddress.Loopback, gateway.ApiAddress.Port);

        async Task<string> StatusAsync(string target, string? authorization)
        {
            var (status, stream, _) = await ConnectAsync(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp), gatewayEndpoint, target, authorization);
            await stream.DisposeAsync();
            return status;
        }

        Assert.StartsWith("HTTP/1.1 403", await StatusAsync($"127.0.0.1:{other.Port}", Basic(token)));
        Assert.StartsWith("HTTP/1.1 403", await StatusAsync($"localhost:{allowed.Port}", Basic(token))); // names are matched as written
        Assert.StartsWith("HTTP/1.1 403", await StatusAsync($"127.0.0.1:{allowed.Port}", "Bearer " + noEgress));
        Assert.StartsWith("HTTP/1.1 407", await StatusAsync($"127.0.0.1:{allowed.Port}", null));
        Assert.StartsWith("HTTP/1.1 407", await StatusAsync($"127.0.0.1:{allowed.Port}", Basic("afgw-not-a-token-the-gateway-issued")));
        Assert.StartsWith("HTTP/1.1 200", await StatusAsync($"127.0.0.1:{allowed.Port}", "Bearer " + token));
        var usage = await gateway.UsageAsync("arith");
        Assert.Equal((1L, 2L), (usage.Tunnels, usage.Rejected["egress_denied"]));
    }
}
