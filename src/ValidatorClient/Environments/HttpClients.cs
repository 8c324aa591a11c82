using System.Net;
using System.Net.Http.Headers;

namespace Affinetes.ValidatorClient.Environments;

/// <summary>The HTTP client an environment calls its replicas with: pooled connections, no proxy, no client timeout (deadlines are per call).</summary>
internal static class HttpClients
{
    /// <summary>The name of the clients <c>AddAffinetes</c> registers with the HTTP client factory.</summary>
    public const string Name = "Affinetes";

    /// <summary>The name of the client for url-mode servers whose TLS certificates are not checked.</summary>
    public const string InsecureName = "Affinetes.InsecureTls";

    public static HttpClient Create(EnvironmentOptions options) => Configure(new HttpClient(CreateHandler(options.VerifyTls)), options);

    /// <summary>The handler behind every environment's client (also what the HTTP client factory is configured with).</summary>
    public static SocketsHttpHandler CreateHandler(bool verifyTls)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            MaxConnectionsPerServer = int.MaxValue,
            // Replicas of isolated containers answer on unix sockets (UnixSocketEndpoints); the others over TCP.
            ConnectCallback = UnixSocketEndpoints.ConnectAsync,
        };
        if (!verifyTls)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }
        return handler;
    }

    /// <summary>Per environment: no client-side timeout (each call has its own deadline) and the environment's token.</summary>
    public static HttpClient Configure(HttpClient http, EnvironmentOptions options)
    {
        http.Timeout = Timeout.InfiniteTimeSpan;
        if (options.AuthToken is { } token)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return http;
    }
}
