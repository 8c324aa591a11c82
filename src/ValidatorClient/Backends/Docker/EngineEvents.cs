using System.Collections.Concurrent;
using System.Globalization;
using Affinetes.Protocol;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.ValidatorClient.Backends.Docker;

/// <summary>
/// The exit codes of one session's containers on one engine, from the engine's <c>die</c> events (read from a moment
/// before the first container starts): an auto-removed container leaves no other record of how it ended.
/// </summary>
internal sealed class EngineEvents : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<long>> _exits = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop;
    private readonly Task _reading;

    private EngineEvents(IDockerClient docker, string session, CancellationToken stopping)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var since = (DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1).ToString(CultureInfo.InvariantCulture);
        _reading = ReadAsync(docker, session, since, _stop.Token);
    }

    public static EngineEvents Start(IDockerClient docker, string session, CancellationToken stopping) => new(docker, session, stopping);

    private async Task ReadAsync(IDockerClient docker, string session, string since, CancellationToken cancellationToken)
    {
        try
        {
            await docker.System.MonitorEventsAsync(new ContainerEventsParameters
            {
                Since = since,
                Filters = new Dictionary<string, IDictionary<string, bool>>
                {
                    ["type"] = new Dictionary<string, bool> { ["container"] = true },
                    ["event"] = new Dictionary<string, bool> { ["die"] = true },
                    ["label"] = new Dictionary<string, bool> { [$"{ContainerLabels.Session}={session}"] = true },
                },
            }, new Progress(this), cancellationToken);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException or DockerApiException)
        {
            // The environment is going away, or the engine is: exit codes then come from inspecting, where they can.
        }
    }

    private TaskCompletionSource<long> Exit(string containerId) =>
        _exits.GetOrAdd(containerId, _ => new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>The container's exit code once its <c>die</c> event is in (waiting up to <paramref name="wait"/> for it); null if none came.</summary>
    public async Task<long?> ExitCodeAsync(string containerId, TimeSpan wait, CancellationToken cancellationToken)
    {
        try
        {
            return await Exit(containerId).Task.WaitAsync(wait, cancellationToken);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _reading;
        _stop.Dispose();
    }

    private sealed class Progress(EngineEvents events) : IProgress<Message>
    {
        public void Report(Message value)
        {
            if (value.Actor?.ID is { } id && value.Actor.Attributes?.TryGetValue("exitCode", out var code) == true
                && long.TryParse(code, NumberStyles.Integer, CultureInfo.InvariantCulture, out var exitCode))
            {
                events.Exit(id).TrySetResult(exitCode);
            }
        }
    }
}
