using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Pooling;

namespace Affinetes.ValidatorClient.Backends.Url;

/// <summary>Servers that already run somewhere and speak the protocol: nothing to start, nothing to replace.</summary>
internal sealed class UrlBackend(EnvironmentOptions options, HttpClient http) : IBackend
{
    public string Name => "url";

    public async Task<IReadOnlyList<ReplicaEndpoint>> ProvisionAsync(CancellationToken cancellationToken)
    {
        var endpoints = options.BaseUrls.Select(url =>
        {
            var uri = new Uri(url.EndsWith('/') ? url : url + "/");
            return new ReplicaEndpoint(uri.ToString(), uri, uri.ToString().TrimEnd('/'));
        }).ToList();
        await Task.WhenAll(endpoints.Select(e => ReadinessProbe.WaitAsync(http, e.BaseUrl, options.ReadyTimeout,
            _ => Task.FromResult<EnvironmentUnavailableException?>(null), e.Description, cancellationToken)));
        return endpoints;
    }

    public Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaEndpoint replica, CancellationToken cancellationToken) =>
        Task.FromResult<EnvironmentUnavailableException?>(null);

    public Task<ReplicaEndpoint?> ReplaceAsync(ReplicaEndpoint dead, CancellationToken cancellationToken) => Task.FromResult<ReplicaEndpoint?>(null);

    public Task StreamLogsAsync(ReplicaEndpoint replica, Action<string> sink, bool follow, CancellationToken cancellationToken) =>
        throw new NotSupportedException("url mode has no access to the server's logs");

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
