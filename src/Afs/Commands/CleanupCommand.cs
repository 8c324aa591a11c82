using System.CommandLine;
using System.Globalization;
using Affinetes.Afs.Cli;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs cleanup [--dry-run] [--name N]</c>: removes every container labelled as started by a validator, running or not,
/// whichever process started it: what a crashed validator leaves behind. Unlike <c>afs stop</c> it kills at once
/// and finds nothing to complain about when there is nothing.
/// </summary>
internal sealed class CleanupCommand : AfsCommand
{
    private readonly Option<bool> _dryRun = new("--dry-run") { Description = "only list what would be removed" };
    private readonly Option<string?> _name = new("--name") { Description = "only the containers of this environment (default: every environment's)" };

    public CleanupCommand()
        : base("cleanup", "Remove every container any validator started on the engine (labelled affinetes.owner=affinetes-validator).")
    {
        Options.Add(_dryRun);
        Options.Add(_name);
        AddHostOption("repeatable: each is cleaned up");
    }

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var console = context.Console;
        var dry = context.Get(_dryRun);
        await using var engines = await Engines.ConnectAsync(context.Engines, cancellationToken);
        var containers = await engines.ListAsync(context.Get(_name), includeStopped: true, cancellationToken);
        var removed = dry
            ? containers
            : [.. (await Task.WhenAll(containers.Select(async c => (Container: c, Removed: await engines.RemoveAsync(c, TimeSpan.Zero, cancellationToken)))))
                .Where(r => r.Removed).Select(r => r.Container)];
        if (context.Json)
        {
            console.WriteJson(new
            {
                dry_run = dry,
                removed = removed.Select(c => new { name = c.EnvironmentName, container = c.ContainerName, id = c.Id, image = c.Image, state = c.State, session = c.Session }),
            });
            return ExitCodes.Ok;
        }
        if (removed.Count == 0)
        {
            console.Line(context.Get(_name) is { } only ? $"nothing to clean up: no containers of environment {only}" : "nothing to clean up: no affinetes containers");
            return ExitCodes.Ok;
        }
        console.Line($"{(dry ? "would remove" : "removed")} {AfsConsole.Plural(removed.Count, "container")}:");
        var table = console.Table("NAME", "CONTAINER", "IMAGE", "STATE", "REPLICA", "SESSION", "ENGINE");
        foreach (var c in removed)
        {
            table.AddTextRow(c.EnvironmentName, c.ContainerName, c.Image, c.State, c.Replica.ToString(CultureInfo.InvariantCulture), c.Session, c.Engine);
        }
        console.Write(table);
        return ExitCodes.Ok;
    }
}
