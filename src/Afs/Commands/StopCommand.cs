using System.CommandLine;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs stop NAME</c>: stops (letting calls in flight finish) and removes an environment's containers.</summary>
internal static class StopCommand
{
    /// <summary>How long each host may drain calls in flight before it is killed.</summary>
    private static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(10);

    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "the environment's name (afs ps lists them)" };
        var json = new Option<bool>("--json") { Description = "print the removed containers as JSON" };
        var hosts = Engines.HostOption("repeatable: the replicas on each are stopped");
        var command = new Command("stop", "Stop and remove an environment's containers (every replica, running or not).") { name, hosts, json };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            var environmentName = result.GetValue(name)!;
            try
            {
                await using var engines = await Engines.ConnectAsync(Engines.Resolve(result, hosts), cancellationToken);
                var containers = await engines.ListAsync(environmentName, includeStopped: true, cancellationToken);
                if (containers.Count == 0)
                {
                    throw new ArgumentException($"no containers of environment '{environmentName}' (afs ps --all lists them)");
                }
                var removed = await Task.WhenAll(containers.Select(async c => (c.Container, Removed: await c.RemoveAsync(GracePeriod, cancellationToken))));
                var gone = removed.Where(r => r.Removed).Select(r => r.Container).ToList();
                if (result.GetValue(json))
                {
                    Terminal.WriteJson(output, new { name = environmentName, removed = gone.Select(c => new { container = c.ContainerName, id = c.Id, replica = c.Replica }) });
                }
                else
                {
                    output.WriteLine($"stopped and removed {gone.Count} container{(gone.Count == 1 ? "" : "s")} of {environmentName}: {string.Join(", ", gone.Select(c => c.ContainerName))}");
                }
                return ExitCodes.Ok;
            }
            catch (Exception e) when (Failures.IsExpected(e))
            {
                return Failures.Report(result.InvocationConfiguration.Error, "stop", e);
            }
        });
        return command;
    }
}
