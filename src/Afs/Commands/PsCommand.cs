using System.CommandLine;
using System.Globalization;
using Affinetes.ValidatorClient.Backends.Docker;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs ps [--all]</c>: the containers validators started on the engine, found by their labels.</summary>
internal static class PsCommand
{
    public static Command Create()
    {
        var all = new Option<bool>("--all", "-a") { Description = "include stopped containers" };
        var json = new Option<bool>("--json") { Description = "print the containers as a JSON array" };
        var hosts = Engines.HostOption("repeatable: lists every engine's");
        var command = new Command("ps", "List the environments' containers (running ones unless --all).") { all, hosts, json };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            try
            {
                await using var engines = await Engines.ConnectAsync(Engines.Resolve(result, hosts), cancellationToken);
                var listed = await engines.ListAsync(null, result.GetValue(all), cancellationToken);
                if (result.GetValue(json))
                {
                    Terminal.WriteJson(output, listed.Select(l => new
                    {
                        name = l.Container.EnvironmentName,
                        container = l.Container.ContainerName,
                        id = l.Container.Id,
                        image = l.Container.Image,
                        state = l.Container.State,
                        status = l.Container.Status,
                        address = Address(l.Container),
                        host_network = l.Container.HostNetwork,
                        replica = l.Container.Replica,
                        created = l.Container.Created,
                        session = l.Container.Session,
                        engine = l.Engine.Spec,
                    }));
                    return ExitCodes.Ok;
                }
                if (listed.Count == 0)
                {
                    output.WriteLine(result.GetValue(all) ? "no affinetes containers" : "no affinetes containers running (afs ps --all includes stopped ones)");
                    return ExitCodes.Ok;
                }
                // Addresses are on the engine's host: say which engine when it is not only this machine's.
                var withEngine = engines.Several || engines.All[0].IsRemote;
                string[] columns = ["NAME", "CONTAINER", "IMAGE", "STATUS", "ADDRESS", "REPLICA", "CREATED", "SESSION"];
                var table = Terminal.Table(output, withEngine ? [.. columns, "ENGINE"] : columns);
                foreach (var (engine, c) in listed)
                {
                    string[] row = [c.EnvironmentName, c.ContainerName, c.Image, c.Status, (Address(c) ?? "-") + (c.HostNetwork && c.Running ? " (host network)" : ""),
                        c.Replica.ToString(CultureInfo.InvariantCulture), Terminal.Ago(c.Created), c.Session];
                    table.AddTextRow(withEngine ? [.. row, engine.Spec] : row);
                }
                Terminal.Write(output, table);
                return ExitCodes.Ok;
            }
            catch (Exception e) when (Failures.IsExpected(e))
            {
                return Failures.Report(result.InvocationConfiguration.Error, "ps", e);
            }
        });
        return command;
    }

    internal static string? Address(OwnedContainer container) =>
        container.Port is { } port ? $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}" : null;
}
