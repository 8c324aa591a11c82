using System.Text.Json;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Episodes;

/// <summary>An open episode on its leased replica; see <see cref="IEpisode"/>.</summary>
internal sealed class Episode(OpenEnvClient client, EpisodeLease lease, string episodeId, StepResult reset) : IEpisode
{
    /// <summary>How long disposal waits for <c>stop</c>: it must not hold a caller up the way a step may.</summary>
    private static readonly TimeSpan StopAtDisposal = TimeSpan.FromSeconds(10);

    private const int Open = 0, Stopped = 1, Lost = 2;

    private int _state;
    private int _busy;
    private EpisodeLostException? _lost;
    private StepResult _last = reset;

    public string EpisodeId => episodeId;

    public ReplicaEndpoint Replica => lease.Replica;

    public StepResult Reset { get; } = reset;

    public StepResult Last => Volatile.Read(ref _last);

    public bool IsEnded => Volatile.Read(ref _state) != Open;

    public async Task<StepResult> StepAsync(string action, IReadOnlyDictionary<string, object?>? kwargs = null, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(action);
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal) { ["action"] = action, ["episode_id"] = episodeId };
        if (kwargs is not null)
        {
            foreach (var (name, value) in kwargs)
            {
                if (!arguments.TryAdd(name, value))
                {
                    throw new ArgumentException($"kwargs name '{name}', which StepAsync sends itself", nameof(kwargs));
                }
            }
        }
        return await AdvanceAsync("step", arguments, timeout, cancellationToken);
    }

    public Task<StepResult> StateAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        AdvanceAsync("state", new Dictionary<string, object?> { ["episode_id"] = episodeId }, timeout, cancellationToken);

    /// <summary>A step or state: refused once ended, read as an OpenEnv answer, and the episode lost when its replica is gone or forgot it.</summary>
    private async Task<StepResult> AdvanceAsync(string method, Dictionary<string, object?> arguments, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var deadline = client.Deadline(timeout);
        ThrowIfEnded(method);
        if (lease.RemovedReason is { } removed)
        {
            throw await LoseAsync($"was given up and replaced ({removed})", null);
        }
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException($"a call of episode {episodeId} is in flight; an episode takes one call at a time");
        }
        try
        {
            JsonElement answer;
            try
            {
                answer = await lease.CallAsync(method, arguments, deadline, cancellationToken);
            }
            catch (EnvironmentUnavailableException e)
            {
                throw await LoseAsync(lease.RemovedReason is { } reason ? $"was given up and replaced ({reason})"
                    : e.InnerException is HttpRequestException transport ? $"cannot be reached ({transport.Message})"
                    : $"is gone ({e.Description})", e);
            }
            var result = OpenEnvAnswers.Read(method, answer);
            if (result.ErrorType == "episode_not_found")
            {
                throw await LoseAsync($"answered that it does not know the episode (info.error.type episode_not_found: it restarted, or ended the episode itself): {result.ObservationText}", null);
            }
            Volatile.Write(ref _last, result);
            return result;
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private void ThrowIfEnded(string method)
    {
        switch (Volatile.Read(ref _state))
        {
            case Lost:
                throw new EpisodeLostException(episodeId, lease.Replica, _lost!.Reason);
            case Stopped:
                throw new EpisodeStoppedException(episodeId, method);
        }
    }

    /// <summary>Ends the episode as lost (its count taken back from the replica) and gives the exception to throw.</summary>
    private async Task<EpisodeLostException> LoseAsync(string reason, Exception? inner)
    {
        var lost = new EpisodeLostException(episodeId, lease.Replica, reason, inner);
        if (Interlocked.CompareExchange(ref _lost, lost, null) is null && Interlocked.CompareExchange(ref _state, Lost, Open) == Open)
        {
            EpisodeLog.Lost(client.Logger, episodeId, lost.Message);
            await lease.DisposeAsync();
        }
        return lost;
    }

    public async Task<JsonElement?> StopAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var deadline = client.Deadline(timeout);
        if (Interlocked.CompareExchange(ref _state, Stopped, Open) != Open)
        {
            return null;
        }
        try
        {
            if (lease.RemovedReason is not null)
            {
                return null;
            }
            try
            {
                return await lease.CallAsync("stop", new Dictionary<string, object?> { ["episode_id"] = episodeId }, deadline, cancellationToken);
            }
            catch (MethodNotFoundException)
            {
                // The original's client falls back to close() for environments older than stop().
                return await lease.CallAsync("close", new Dictionary<string, object?>(), deadline, cancellationToken);
            }
        }
        catch (Exception e) when (e is MethodNotFoundException or EnvironmentUnavailableException)
        {
            return null; // nothing to stop it with, or its replica is gone: it is gone too
        }
        finally
        {
            EpisodeLog.Stopped(client.Logger, episodeId, lease.Replica.Description);
            await lease.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (IsEnded)
        {
            return;
        }
        try
        {
            using var bound = new CancellationTokenSource(StopAtDisposal);
            await StopAsync(StopAtDisposal, bound.Token);
        }
        catch (Exception e) when (e is AffinetesException or OperationCanceledException or HttpRequestException)
        {
            EpisodeLog.StopFailed(client.Logger, episodeId, e.Message);
        }
    }
}
