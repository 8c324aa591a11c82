using System.CommandLine;
using System.Globalization;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs cleanup [--dry-run] [--name N]</c>: removes every container labelled as started by a validator, running or not,
/// whichever process started it: what a crashed validator leaves behind. Unlike <c>afs stop</c> it kills at once
/// and finds nothing to complain about when there is nothing.
/// </summary>
internal static class CleanupCommand
{
    public static Command Create()
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "only list what would be removed" };
        var name = new Option<string?>("--name") { Description = "only the containers of this environment (default: every environment's)" };
        var json = new Option<bool>("--json") { Description = "print the removed containers as JSON" };
        var hosts = Engines.HostOption("repeatable: each is cleaned up");
        var command = new Command("cleanup", "Remove every container any validator started on the engine (labelled affinetes.owner=affinetes-validator).") { dryRun, name, hosts, json };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            var dry = result.GetValue(dryRun);
            try
            {
                await using var engines = await Engines.ConnectAsync(Engines.Resolve(result, hosts), cancellationToken);
                var containers = await engines.ListAsync(result.GetValue(name), includeStopped: true, cancellationToken);
                var removed = dry
                    ? containers
                    : [.. (await Task.WhenAll(containers.Select(async c => (Container: c, Removed: await c.RemoveAsync(TimeSpan.Zero, cancellationToken)))))
                        .Where(r => r.Removed).Select(r => r.Container)];
                if (result.GetValue(json))
                {
                    Terminal.WriteJson(output, new
                    {
                        dry_run = dry,
                        removed = removed.Select(r => r.Container).Select(c => new { name = c.EnvironmentName, container = c.ContainerName, id = c.Id, image = c.Image, state = c.State, session = c.Session }),
                    });
                    return ExitCodes.Ok;
                }
                if (removed.Count == 0)
                {
                    output.WriteLine(result.GetValue(name) is { } only ? $"nothing to clean up: no containers of environment {only}" : "nothing to clean up: no affinetes containers");
                    return ExitCodes.Ok;
                }
                output.WriteLine($"{(dry ? "would remove" : "removed")} {removed.Count} container{(removed.Count == 1 ? "" : "s")}:");
                var table = Terminal.Table(output, "NAME", "CONTAINER", "IMAGE", "STATE", "REPLICA", "SESSION", "ENGINE");
                foreach (var (engine, c) in removed)
                {
                    table.AddTextRow(c.EnvironmentName, c.ContainerName, c.Image, c.State, c.Replica.ToString(CultureInfo.InvariantCulture), c.Session, engine.Spec);
                }
                Terminal.Write(output, table);
                return ExitCodes.Ok;
            }
            catch (Exception e) when (Failures.IsExpected(e))
            {
                return Failures.Report(result.InvocationConfiguration.Error, "cleanup", e);
            }
        });
        return command;
    }
}
