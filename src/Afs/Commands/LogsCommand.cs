using System.CommandLine;
using Affinetes.ValidatorClient.Backends.Docker;
using Affinetes.Afs.Cli;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs logs NAME [-f] [--tail N]</c>: the log lines of every replica of an environment.</summary>
internal sealed class LogsCommand : AfsCommand
{
    private readonly Argument<string> _name = new("name") { Description = "the environment's name (afs ps lists them)" };
    private readonly Option<bool> _follow = new("--follow", "-f") { Description = "keep printing new lines until Ctrl+C" };
    private readonly Option<int?> _tail = new("--tail", "-n") { Description = "only the last N lines of each replica" };

    public LogsCommand()
        : base("logs", "Print the log lines of an environment's containers, prefixed with the container when there are several (--json: one {container, replica, line} per line).")
    {
        Arguments.Add(_name);
        Options.Add(_follow);
        Options.Add(_tail);
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
}
