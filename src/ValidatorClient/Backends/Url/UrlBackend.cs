using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Backends.Url;

/// <summary>
/// Servers that already run somewhere and speak the protocol: nothing to start, nothing to remove. A server that
/// stops answering is skipped until it answers again (it cannot be replaced from here).
/// </summary>
internal sealed class UrlBackend(EnvironmentOptions options) : IBackend
{
    private readonly ReplicaEndpoint[] _endpoints = [.. options.BaseUrls.Select(url =>
    {
        var uri = new Uri(url.EndsWith('/') ? url : url + "/");
        return new ReplicaEndpoint(uri.ToString(), uri, uri.ToString().TrimEnd('/'));
    })];

    public string Name => "url";

    public int ReplicaCount => _endpoints.Length;

    public bool CanReplace => false;

    public Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<ReplicaEndpoint> StartReplicaAsync(int index, CancellationToken cancellationToken) => Task.FromResult(_endpoints[index]);

    public Task<EnvironmentUnavailableException?> DiagnoseAsync(ReplicaEndpoint replica, CancellationToken cancellationToken) =>
        Task.FromResult<EnvironmentUnavailableException?>(null);

    public Task RemoveReplicaAsync(ReplicaEndpoint replica, CancellationToken cancellationToken) => Task.CompletedTask;

    public IAsyncEnumerable<string> ReadLogsAsync(ReplicaEndpoint replica, bool follow, CancellationToken cancellationToken) =>
        throw new NotSupportedException("url mode has no access to the server's logs");

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
