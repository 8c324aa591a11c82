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
        var command = new Command("ps", "List the environments' containers (running ones unless --all).") { all, json };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            try
            {
                using var docker = DockerConnection.Create();
                var containers = await OwnedContainers.ListAsync(docker, includeStopped: result.GetValue(all), cancellationToken: cancellationToken);
                if (result.GetValue(json))
                {
                    Terminal.WriteJson(output, containers.Select(c => new
                    {
                        name = c.EnvironmentName,
                        container = c.ContainerName,
                        id = c.Id,
                        image = c.Image,
                        state = c.State,
                        status = c.Status,
                        address = Address(c),
                        host_network = c.HostNetwork,
                        replica = c.Replica,
                        created = c.Created,
                        session = c.Session,
                    }));
                    return ExitCodes.Ok;
                }
                if (containers.Count == 0)
                {
                    output.WriteLine(result.GetValue(all) ? "no affinetes containers" : "no affinetes containers running (afs ps --all includes stopped ones)");
                    return ExitCodes.Ok;
                }
                var table = Terminal.Table(output, "NAME", "CONTAINER", "IMAGE", "STATUS", "ADDRESS", "REPLICA", "CREATED", "SESSION");
                foreach (var c in containers)
                {
                    table.AddTextRow(c.EnvironmentName, c.ContainerName, c.Image, c.Status, (Address(c) ?? "-") + (c.HostNetwork && c.Running ? " (host network)" : ""),
                        c.Replica.ToString(CultureInfo.InvariantCulture), Terminal.Ago(c.Created), c.Session);
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
