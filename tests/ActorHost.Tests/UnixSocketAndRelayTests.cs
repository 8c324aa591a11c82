using System.Net;
using System.Net.Sockets;
using System.Text;
using Affinetes.ActorHost.Hosting;
using Affinetes.Protocol;
using Affinetes.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Affinetes.ActorHost.Tests;

/// <summary>
/// What an isolated container's host does besides its port: serve on a unix socket (how the client reaches it), and
/// relay 127.0.0.1:PORT to the LLM gateway's unix socket at the connection level (how the actor reaches the LLM).
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class UnixSocketAndRelayTests
{
    [Fact]
    public void Options_ReadTheSocketAndRelay_AndRefuseHalfARelay()
    {
        var options = ActorHostOptions.Load([], new Dictionary<string, string>
        {
            [HostEnvironment.UnixSocket] = "/run/affinetes/host/host.sock",
            [HostEnvironment.LlmSocket] = "/run/affinetes/llm/llm.sock",
            [HostEnvironment.LlmRelayPort] = "8791",
        });
        Assert.Equal("/run/affinetes/host/host.sock", options.UnixSocket);
        Assert.Equal("/run/affinetes/llm/llm.sock", options.LlmSocket);
        Assert.Equal(8791, options.LlmRelayPort);

        var half = Assert.Throws<OptionsException>(() => ActorHostOptions.Load([], new Dictionary<string, string> { [HostEnvironment.LlmRelayPort] = "8791" }));
        Assert.Contains("go together", half.Message, StringComparison.Ordinal);
        var same = Assert.Throws<OptionsException>(() => ActorHostOptions.Load(["--llm-socket", "/x.sock", "--llm-relay-port", "8000"], new Dictionary<string, string>()));
        Assert.Contains("the host's own port", same.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Host_ServesOnItsSocket_OpenToEveryUser_AndRelaysConnectionsToTheGatewaySocket_BothWays()
    {
        var directory = Directory.CreateTempSubdirectory("affinetes-relay-").FullName;
        var hostSocket = Path.Combine(directory, "host.sock");
        var gatewaySocket = Path.Combine(directory, "llm.sock");
        // A stand-in gateway that reads until the other side has finished sending, then answers and closes: the relay
        // must pass the half-close on and the answer back.
        using var gateway = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        gateway.Bind(new UnixDomainSocketEndPoint(gatewaySocket));
        gateway.Listen();
        var served = Task.Run(async () =>
        {
            using var connection = await gateway.AcceptAsync();
            await using var stream = new NetworkStream(connection);
            using var received = new MemoryStream();
            await stream.CopyToAsync(received);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("gateway got: " + Encoding.ASCII.GetString(received.ToArray())));
        });
        var relayPort = DockerEngine.FreeLoopbackPort();
        var options = new ActorHostOptions
        {
            EnvFile = HostUnderTest.EnvPath("protocol_env.py"),
            Port = 0,
            Bind = "127.0.0.1",
            UnservableGrace = TimeSpan.FromDays(1),
            UnixSocket = hostSocket,
            LlmSocket = gatewaySocket,
            LlmRelayPort = relayPort,
        };
        await using var app = ActorHostApp.Build(options, logging => logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync().Within(HostUnderTest.StartLimit, "starting the host");
        try
        {
            using var http = new HttpClient(new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(hostSocket), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            });
            await Bounded.Until(async () => (await http.GetAsync("http://host/ready")).StatusCode == HttpStatusCode.OK, HostUnderTest.StartLimit, "the host ready on its socket");
            using var call = await http.PostAsync("http://host/call", new StringContent("""{"method":"echo","args":[],"kwargs":{"x":3}}""", Encoding.UTF8, "application/json")).Within();
            Assert.Equal(HttpStatusCode.OK, call.StatusCode);
            Assert.Contains("\"x\":3", await call.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal((UnixFileMode)0x1B6, File.GetUnixFileMode(hostSocket) & (UnixFileMode)0x1FF); // 0666

            using var actor = new TcpClient();
            await actor.ConnectAsync(IPAddress.Loopback, relayPort).Within();
            var stream = actor.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("CONNECT api.example:443 HTTP/1.1\r\n\r\n")).AsTask().Within();
            actor.Client.Shutdown(SocketShutdown.Send);
            using var reader = new StreamReader(stream);
            var answer = await reader.ReadToEndAsync().Within(what: "the gateway's answer through the relay");
            await served.Within();
            Assert.Equal("gateway got: CONNECT api.example:443 HTTP/1.1\r\n\r\n", answer);
        }
        finally
        {
            await app.StopAsync();
            Directory.Delete(directory, recursive: true);
        }
    }
}
