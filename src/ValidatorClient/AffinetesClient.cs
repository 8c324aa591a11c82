using System.Net;
using Affinetes.ValidatorClient.Backends;
using Affinetes.ValidatorClient.Backends.Docker;
using Affinetes.ValidatorClient.Backends.Url;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Pooling;

namespace Affinetes.ValidatorClient;

/// <summary>The entry point: load an environment, then call its Actor's methods.</summary>
public static class AffinetesClient
{
    /// <summary>
    /// Provisions the environment (containers, or existing servers in url mode), waits until every replica is ready
    /// and returns it. Dispose it to release what it started. Invalid options throw
    /// <see cref="EnvironmentOptionsException"/>; an environment that cannot start throws
    /// <see cref="EnvironmentUnavailableException"/> with the reason, and leaves nothing running.
    /// </summary>
    public static async Task<IEnvironment> LoadEnvAsync(EnvironmentOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (cpu, memory) = options.Validate();
        var http = CreateHttpClient(options);
        IBackend backend = options.Mode switch
        {
            EnvironmentMode.Url => new UrlBackend(options, http),
            EnvironmentMode.Docker => new DockerBackend(options, cpu, memory, http),
            _ => throw new EnvironmentOptionsException($"{options.Mode.ToString().ToLowerInvariant()} mode is not available in this version"),
        };
        try
        {
            var endpoints = await backend.ProvisionAsync(cancellationToken);
            var pool = new ReplicaPool(backend, options, http, endpoints);
            return new AffinetesEnvironment(options.Image ?? string.Join(", ", options.BaseUrls), backend, pool, http, options);
        }
        catch
        {
            await backend.DisposeAsync();
            http.Dispose();
            throw;
        }
    }

    private static HttpClient CreateHttpClient(EnvironmentOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            MaxConnectionsPerServer = int.MaxValue,
        };
        if (!options.VerifyTls)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }
        var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        if (options.AuthToken is { } token)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
        return http;
    }
}
