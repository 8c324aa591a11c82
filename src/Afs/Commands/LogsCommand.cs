using System.CommandLine;
using Affinetes.ValidatorClient.Backends.Docker;
using Affinetes.Afs.Cli;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs logs NAME [-f] [--tail N]</c>: the log lines of every replica of an environment; with <c>--mode basilica</c>,
/// of every pod of the deployment of that name (the one given to <c>afs run --name</c>, or Basilica's).
/// </summary>
internal sealed class LogsCommand : AfsCommand
{
    private readonly Argument<string> _name = new("name") { Description = "the environment's name (afs ps lists them)" };
    private readonly Option<bool> _follow = new("--follow", "-f") { Description = "keep printing new lines until Ctrl+C" };
    private readonly Option<int?> _tail = new("--tail", "-n") { Description = "only the last N lines of each replica" };
    private readonly Option<string> _mode = BasilicaAccess.ModeOption();
    private readonly Option<string?> _apiUrl = BasilicaAccess.ApiUrlOption();

    public LogsCommand()
        : base("logs", "Print the log lines of an environment's containers, prefixed with the container when there are several (--json: one {container, replica, line} per line).")
    {
        Arguments.Add(_name);
        Options.Add(_follow);
        Options.Add(_tail);
        Options.Add(_mode);
        Options.Add(_apiUrl);
        AddHostOption("repeatable: the replicas on each are read");
    }

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var environmentName = context.Get(_name)!;
        var follow = context.Get(_follow);
        if (context.Get(_tail) is < 0)
        {
            throw new UsageException("--tail must be 0 or more");
        }
        if (BasilicaAccess.IsBasilica(context, _mode))
        {
            return await DeploymentLogsAsync(context, environmentName, follow, cancellationToken);
        }
        await using var engines = await Engines.ConnectAsync(context.Engines, cancellationToken);
        var containers = await engines.ListAsync(environmentName, includeStopped: true, cancellationToken);
        if (containers.Count == 0)
        {
            throw new UsageException($"no containers of environment '{environmentName}' (afs ps --all lists them)");
        }
        var prefixed = containers.Count > 1;
        async Task PrintAsync(ValidatorContainer container)
        {
            await foreach (var line in engines.ReadLogsAsync(container, follow, context.Get(_tail), cancellationToken))
            {
                if (context.Json)
                {
                    context.Console.WriteJson(new { container = container.ContainerName, replica = container.Replica, line });
                }
                else
                {
                    context.Console.Line(prefixed ? $"[{container.ContainerName}] {line}" : line);
                }
            }
        }
        try
        {
            if (follow)
            {
                await Task.WhenAll(containers.Select(PrintAsync));
            }
            else
            {
                foreach (var container in containers)
                {
                    await PrintAsync(container); // one replica after the other, so that each one's lines stay together
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && follow)
        {
            // Ctrl+C is how following ends.
        }
        return ExitCodes.Ok;
    }

    private async Task<int> DeploymentLogsAsync(CommandContext context, string name, bool follow, CancellationToken cancellationToken)
    {
        using var deployments = BasilicaAccess.Connect(context, _apiUrl);
        var deployment = await deployments.FindAsync(name, cancellationToken);
        try
        {
            await foreach (var line in deployments.ReadLogsAsync(deployment.InstanceName, follow, context.Get(_tail), cancellationToken))
            {
                if (context.Json)
                {
                    context.Console.WriteJson(new { deployment = deployment.InstanceName, line });
                }
                else
                {
                    context.Console.Line(line);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && follow)
        {
            // Ctrl+C is how following ends.
        }
        return ExitCodes.Ok;
    }
}
