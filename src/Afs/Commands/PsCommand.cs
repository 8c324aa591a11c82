using System.CommandLine;
using System.Globalization;
using Affinetes.Afs.Cli;
using Affinetes.ValidatorClient.Backends.Docker;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs ps [--all]</c>: the containers validators started on the engines, found by their labels.</summary>
internal sealed class PsCommand : AfsCommand
{
    private readonly Option<bool> _all = new("--all", "-a") { Description = "include stopped containers" };

    public PsCommand()
        : base("ps", "List the environments' containers (running ones unless --all).")
    {
        Options.Add(_all);
        AddHostOption("repeatable: lists every engine's");
    }

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var console = context.Console;
        await using var engines = await Engines.ConnectAsync(context.Engines, cancellationToken);
        var listed = await engines.ListAsync(null, context.Get(_all), cancellationToken);
        if (context.Json)
        {
            console.WriteJson(listed.Select(c => new
            {
                name = c.EnvironmentName,
                container = c.ContainerName,
                id = c.Id,
                image = c.Image,
                state = c.State,
                status = c.Status,
                address = c.Address,
                host_network = c.HostNetwork,
                replica = c.Replica,
                created = c.Created,
                session = c.Session,
                engine = c.Engine,
                relaxations = c.Relaxations is "" or "none" ? [] : c.Relaxations.Split(','),
                limits = c.Limits,
            }));
            return ExitCodes.Ok;
        }
        if (listed.Count == 0)
        {
            console.Line(context.Get(_all) ? "no affinetes containers" : "no affinetes containers running (afs ps --all includes stopped ones)");
            return ExitCodes.Ok;
        }
        // Addresses are on the engine's host: say which engine when it is not only this machine's.
        var withEngine = engines.Specs.Count > 1 || engines.IsRemote(engines.Specs[0]);
        string[] columns = ["NAME", "CONTAINER", "IMAGE", "STATUS", "ADDRESS", "REPLICA", "CREATED", "SESSION", "RELAXED"];
        var table = console.Table(withEngine ? [.. columns, "ENGINE"] : columns);
        foreach (var c in listed)
        {
            string[] row = [c.EnvironmentName, c.ContainerName, c.Image, c.Status, (c.Address ?? "-") + (c.HostNetwork && c.Running ? " (host network)" : ""),
                c.Replica.ToString(CultureInfo.InvariantCulture), AfsConsole.Ago(c.Created), c.Session, Relaxed(c)];
            table.AddTextRow(withEngine ? [.. row, c.Engine] : row);
        }
        console.Write(table);
        return ExitCodes.Ok;
    }

    /// <summary>The hardened profile's relaxations: <c>-</c> for none, <c>?</c> for a container started before the profile existed.</summary>
    private static string Relaxed(ValidatorContainer container) => container.Relaxations switch
    {
        "none" => "-",
        "" => "?",
        var relaxations => relaxations,
    };
}
