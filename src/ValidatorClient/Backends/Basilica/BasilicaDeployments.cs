using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Affinetes.ValidatorClient.Backends.Basilica;

/// <summary>
/// The Basilica deployments this user's clients created (named <c>afs-...</c>, or noted on this machine from before
/// they were asked for until deleted): list them with the name the user gave and the one Basilica answered, find one
/// by either, read its logs and events, delete it. <c>afs basilica ls|rm</c> and the Basilica side of
/// <c>afs call|logs|stop|methods</c> are this.
/// </summary>
public sealed class BasilicaDeployments : IDisposable
{
    private readonly BasilicaApi _api;
    private readonly OwnedDeployments _owned;
    private readonly ILogger _logger;

    /// <summary>Reaches the API of <paramref name="options"/> (its URL, key and state directory); validated here.</summary>
    public BasilicaDeployments(BasilicaOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _logger = logger ?? NullLogger.Instance;
        _api = new BasilicaApi(options, _logger);
        _owned = new OwnedDeployments(options.ResolvedStateDirectory);
    }

    /// <summary>The API's root.</summary>
    public Uri Api => _api.Root;

    /// <summary>This user's deployments Basilica lists now, newest first.</summary>
    public async Task<IReadOnlyList<BasilicaDeployment>> ListMineAsync(CancellationToken cancellationToken = default)
    {
        var notes = Notes();
        var listed = await _api.ListAsync(cancellationToken);
        return [.. listed.Deployments
            .Where(d => OwnedDeployments.HasPrefix(d.InstanceName) || notes.ContainsKey(d.InstanceName))
            .Select(d => Describe(d, notes.GetValueOrDefault(d.InstanceName)))
            .OrderByDescending(d => d.CreatedAt)];
    }

    /// <summary>
    /// The deployment called <paramref name="name"/>: Basilica's own name, or the name the user gave it (this machine's
    /// notes, then Basilica's list by the name sent, <c>afs-NAME-...</c>), the newest when several match. Throws
    /// <see cref="BasilicaApiException"/> (404) naming both kinds of name when none does.
    /// </summary>
    public async Task<BasilicaDeployment> FindAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var notes = Notes();
        var noted = notes.Values.Where(n => n.Name == name || n.InstanceName == name).OrderByDescending(n => n.CreatedAt).ToList();
        foreach (var note in noted)
        {
            try
            {
                return Describe(await _api.GetAsync(note.InstanceName, cancellationToken), note);
            }
            catch (BasilicaApiException e) when (e.StatusCode == 404)
            {
                // Deleted elsewhere, or its TTL passed: the note is stale.
            }
        }
        try
        {
            return Describe(await _api.GetAsync(name, cancellationToken), notes.GetValueOrDefault(name));
        }
        catch (BasilicaApiException e) when (e.StatusCode == 404)
        {
            var prefix = OwnedDeployments.NewNamePrefix(name);
            var listed = await _api.ListAsync(cancellationToken);
            if (listed.Deployments.Where(d => d.InstanceName.StartsWith(prefix, StringComparison.Ordinal)).OrderByDescending(d => d.CreatedAt).FirstOrDefault() is { } sent)
            {
                return Describe(sent, notes.GetValueOrDefault(sent.InstanceName));
            }
            throw new BasilicaApiException(404, e.Code, $"no deployment is named '{name}', by Basilica or as the name its environment was given on this machine (ListMineAsync lists both)", false, $"find {name}");
        }
    }

    /// <summary>Deletes a deployment (by Basilica's name), retrying transient failures; false when it was gone already.</summary>
    public async Task<bool> DeleteAsync(string instanceName, CancellationToken cancellationToken = default)
    {
        var deleted = await _api.DeleteAsync(instanceName, cancellationToken);
        _owned.Forget(instanceName);
        return deleted;
    }

    /// <summary>Deletes every deployment of this user's that Basilica lists, and forgets notes of those it no longer lists.</summary>
    public async Task<IReadOnlyList<(BasilicaDeployment Deployment, bool Deleted)>> DeleteAllMineAsync(CancellationToken cancellationToken = default)
    {
        var mine = await ListMineAsync(cancellationToken);
        var outcomes = await Task.WhenAll(mine.Select(async d => (d, await DeleteAsync(d.InstanceName, cancellationToken))));
        var listed = mine.Select(d => d.InstanceName).ToHashSet(StringComparer.Ordinal);
        foreach (var stale in Notes().Values.Where(n => !listed.Contains(n.InstanceName)))
        {
            _owned.Forget(stale.InstanceName);
        }
        return outcomes;
    }

    /// <summary>
    /// Deletes the deployments noted on this machine whose owner process is gone (a validator killed with SIGKILL, or
    /// one that crashed, cannot delete what it created) and forgets their notes; returns what it deleted or found gone.
    /// Deployments of live processes, of other machines, and those kept on purpose (no cleanup) are left alone.
    /// Basilica jobs call this before they create anything.
    /// </summary>
    public async Task<IReadOnlyList<(BasilicaDeployment Deployment, bool Deleted)>> RemoveAbandonedAsync(CancellationToken cancellationToken = default)
    {
        var abandoned = Notes().Values.Where(n => n.Owner is { IsGoneFromThisMachine: true }).ToList();
        if (abandoned.Count == 0)
        {
            return [];
        }
        return await Task.WhenAll(abandoned.Select(async note =>
        {
            var deleted = await _api.DeleteAsync(note.InstanceName, cancellationToken);
            _owned.Forget(note.InstanceName);
            Log.AbandonedDeploymentRemoved(_logger, note.InstanceName, note.Owner!.ToString(), deleted ? "deleted" : "it was gone already");
            return (new BasilicaDeployment(note.InstanceName, note.Name, note.RequestedName, note.Image, null, null, null, 0, 0, null, note.CreatedAt, note.ExpiresAt), deleted);
        }));
    }

    /// <summary>A deployment's log lines (all its pods; the last <paramref name="tail"/> when given), and the new ones until cancelled when <paramref name="follow"/>.</summary>
    public IAsyncEnumerable<string> ReadLogsAsync(string instanceName, bool follow, int? tail = null, CancellationToken cancellationToken = default) =>
        _api.LogsAsync(instanceName, follow, tail, cancellationToken);

    /// <summary>A deployment's recent events (scheduling, pulling, failures), newest last.</summary>
    public Task<IReadOnlyList<string>> RecentEventsAsync(string instanceName, int limit = 10, CancellationToken cancellationToken = default) =>
        _api.RecentEventsAsync(instanceName, limit, cancellationToken);

    public void Dispose() => _api.Dispose();

    private Dictionary<string, OwnedDeployment> Notes() =>
        _owned.List().Where(n => n.ApiUrl == _api.Root.ToString()).GroupBy(n => n.InstanceName).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);

    private static BasilicaDeployment Describe(Deployment d, OwnedDeployment? note) => new(
        d.InstanceName, note?.Name, note?.RequestedName, note?.Image, d.State, d.Phase, d.Message, d.Replicas?.Ready ?? 0, d.Replicas?.Desired ?? 0,
        d.Url, d.CreatedAt ?? note?.CreatedAt, note?.ExpiresAt);
}

/// <summary>One deployment as <see cref="BasilicaDeployments"/> lists it.</summary>
/// <param name="InstanceName">Basilica's name for it (every API call uses this one).</param>
/// <param name="Name">The name the user gave the environment, when this machine noted one.</param>
/// <param name="RequestedName">The name the client sent, when noted (Basilica may have answered with another).</param>
/// <param name="Image">The image, when noted.</param>
/// <param name="State">Basilica's state: Pending, Active, Failed, Terminating.</param>
/// <param name="Phase">Basilica's phase: pulling, starting, ready, failed ...</param>
/// <param name="Message">Basilica's message for the phase.</param>
/// <param name="ReadyReplicas">Pods ready.</param>
/// <param name="DesiredReplicas">Pods asked for.</param>
/// <param name="Url">Where it answers, once it has a URL.</param>
/// <param name="CreatedAt">When it was created (or asked for).</param>
/// <param name="ExpiresAt">When its TTL ends, when noted.</param>
public sealed record BasilicaDeployment(string InstanceName, string? Name, string? RequestedName, string? Image, string? State, string? Phase, string? Message,
    int ReadyReplicas, int DesiredReplicas, string? Url, DateTimeOffset? CreatedAt, DateTimeOffset? ExpiresAt);
