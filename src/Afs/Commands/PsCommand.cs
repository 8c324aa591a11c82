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
            console.WriteJson(listed.Select(l => new
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
                relaxations = l.Container.Relaxations is "" or "none" ? [] : l.Container.Relaxations.Split(','),
                limits = l.Container.Limits,
            }));
            return ExitCodes.Ok;
        }
        if (listed.Count == 0)
        {
            console.Line(context.Get(_all) ? "no affinetes containers" : "no affinetes containers running (afs ps --all includes stopped ones)");
            return ExitCodes.Ok;
        }
        // Addresses are on the engine's host: say which engine when it is not only this machine's.
        var withEngine = engines.Several || engines.All[0].IsRemote;
        string[] columns = ["NAME", "CONTAINER", "IMAGE", "STATUS", "ADDRESS", "REPLICA", "CREATED", "SESSION", "RELAXED"];
        var table = console.Table(withEngine ? [.. columns, "ENGINE"] : columns);
        foreach (var (engine, c) in listed)
        {
            string[] row = [c.EnvironmentName, c.ContainerName, c.Image, c.Status, (Address(c) ?? "-") + (c.HostNetwork && c.Running ? " (host network)" : ""),
                c.Replica.ToString(CultureInfo.InvariantCulture), AfsConsole.Ago(c.Created), c.Session, Relaxed(c)];
            table.AddTextRow(withEngine ? [.. row, engine.Spec] : row);
        }
        console.Write(table);
        return ExitCodes.Ok;
    }

    /// <summary>The hardened profile's relaxations: <c>-</c> for none, <c>?</c> for a container started before the profile existed.</summary>
    private static string Relaxed(OwnedContainer container) => container.Relaxations switch
    {
        "none" => "-",
        "" => "?",
        var relaxations => relaxations,
    };

    internal static string? Address(OwnedContainer container) =>
        container.Port is { } port ? $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}" : null;
}
