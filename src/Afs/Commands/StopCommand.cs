using System.CommandLine;
using Affinetes.Afs.Cli;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs stop NAME</c>: stops (letting calls in flight finish) and removes an environment's containers; with
/// <c>--mode basilica</c>, deletes the deployment of that name (the one given to <c>afs run --name</c>, or Basilica's).
/// </summary>
internal sealed class StopCommand : AfsCommand
{
    /// <summary>How long each host may drain calls in flight before it is killed.</summary>
    private static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(10);

    private readonly Argument<string> _name = new("name") { Description = "the environment's name (afs ps lists them; afs basilica ls with --mode basilica)" };
    private readonly Option<string> _mode = BasilicaAccess.ModeOption();
    private readonly Option<string?> _apiUrl = BasilicaAccess.ApiUrlOption();

    public StopCommand()
        : base("stop", "Stop and remove an environment's containers (every replica, running or not).")
    {
        Arguments.Add(_name);
        Options.Add(_mode);
        Options.Add(_apiUrl);
        AddHostOption("repeatable: the replicas on each are stopped");
    }

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var environmentName = context.Get(_name)!;
        if (BasilicaAccess.IsBasilica(context, _mode))
        {
            return await StopDeploymentAsync(context, environmentName, cancellationToken);
        }
        await using var engines = await Engines.ConnectAsync(context.Engines, cancellationToken);
        var containers = await engines.ListAsync(environmentName, includeStopped: true, cancellationToken);
        if (containers.Count == 0)
        {
            throw new UsageException($"no containers of environment '{environmentName}' (afs ps --all lists them)");
        }
        var removed = await Task.WhenAll(containers.Select(async c => (Container: c, Removed: await engines.RemoveAsync(c, GracePeriod, cancellationToken))));
        var gone = removed.Where(r => r.Removed).Select(r => r.Container).ToList();
        if (context.Json)
        {
            context.Console.WriteJson(new { name = environmentName, removed = gone.Select(c => new { container = c.ContainerName, id = c.Id, replica = c.Replica }) });
        }
        else
        {
            context.Console.Line($"stopped and removed {AfsConsole.Plural(gone.Count, "container")} of {environmentName}: {string.Join(", ", gone.Select(c => c.ContainerName))}");
        }
        return ExitCodes.Ok;
    }

    private async Task<int> StopDeploymentAsync(CommandContext context, string name, CancellationToken cancellationToken)
    {
        using var deployments = BasilicaAccess.Connect(context, _apiUrl);
        var deployment = await deployments.FindAsync(name, cancellationToken);
        var deleted = await deployments.DeleteAsync(deployment.InstanceName, cancellationToken);
        var shown = deployment.InstanceName == name ? name : $"{name} ({deployment.InstanceName})";
        if (context.Json)
        {
            context.Console.WriteJson(new { name, instance = deployment.InstanceName, deleted });
        }
        else
        {
            context.Console.Line(deleted ? $"deleted basilica deployment {shown}" : $"basilica deployment {shown} was gone already");
        }
        return ExitCodes.Ok;
    }
}
