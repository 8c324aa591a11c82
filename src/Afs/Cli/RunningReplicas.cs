using Affinetes.ValidatorClient.Backends.Docker;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Afs.Cli;

/// <summary>Reaches an environment that <c>afs run</c> started, through whichever of its running replicas is ready first.</summary>
internal static class RunningReplicas
{
    /// <summary>
    /// One call needs one replica: every running replica of <paramref name="name"/> on the command's engines is asked
    /// at once whether it is ready, and the first that is answers; a replica that died or hangs costs nothing while
    /// another one answers. Throws <see cref="EnvironmentUnavailableException"/> when none is running or none becomes
    /// ready within <paramref name="readyWait"/>.
    /// </summary>
    public static async Task<IEnvironment> ConnectToFirstReadyAsync(string name, CommandContext context, string? token, TimeSpan readyWait, CancellationToken cancellationToken)
    {
        var hosts = context.Engines;
        IReadOnlyList<ValidatorContainer> running;
        await using (var engines = await Engines.ConnectAsync(hosts, cancellationToken))
        {
            running = [.. (await engines.ListAsync(name, includeStopped: false, cancellationToken))
                .OrderBy(c => c.Replica).ThenByDescending(c => c.Created)];
        }
        if (running.Count == 0)
        {
            throw new EnvironmentUnavailableException($"no running environment named '{name}' on {string.Join(", ", hosts.Select(Engines.Describe))} (afs ps lists them; afs run starts one)");
        }
        using var losers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var attempts = running.Select(c => AffinetesClient.LoadEnvAsync(new EnvironmentOptions
        {
            ConnectOnly = true,
            ContainerName = c.ContainerName,
            Image = c.Image,
            Docker = new DockerOptions { Hosts = [c.Engine], SshConfigFile = Engines.SshConfigFile },
            AuthToken = token,
            ReadyTimeout = readyWait,
            Cleanup = false,
        }, context.LoggerFactory, losers.Token)).ToList();
        var pending = attempts.ToList();
        Exception? last = null;
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending);
            pending.Remove(done);
            if (done.IsCompletedSuccessfully)
            {
                await losers.CancelAsync();
                await ReleaseAsync(pending);
                return done.Result;
            }
            last = done.Exception?.InnerException ?? last;
        }
        cancellationToken.ThrowIfCancellationRequested();
        throw last is EnvironmentUnavailableException or EnvironmentAuthenticationException ? last : new EnvironmentUnavailableException($"no replica of '{name}' is ready", inner: last);
    }

    /// <summary>Disposes the environments of the attempts that lost the race, whichever way they end.</summary>
    private static async Task ReleaseAsync(IEnumerable<Task<IEnvironment>> attempts)
    {
        foreach (var attempt in attempts)
        {
            try
            {
                await (await attempt).DisposeAsync();
            }
            catch (Exception e) when (e is OperationCanceledException or AffinetesException)
            {
            }
        }
    }
}
