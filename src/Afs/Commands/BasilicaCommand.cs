using System.CommandLine;
using System.Globalization;
using Affinetes.Afs.Cli;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs basilica ls|rm</c>: the deployments this tool created on Basilica (the Basilica twin of <c>afs ps</c> and <c>afs cleanup</c>).</summary>
internal sealed class BasilicaCommand : Command
{
    public BasilicaCommand()
        : base("basilica", "List and delete the Basilica deployments afs created (names afs-..., or noted by this user's clients).")
    {
        Subcommands.Add(new BasilicaListCommand());
        Subcommands.Add(new BasilicaRemoveCommand());
    }

    internal static string Age(TimeSpan span) => span.TotalSeconds < 0 ? "-"
        : span.TotalMinutes < 1 ? $"{span.TotalSeconds:0}s"
        : span.TotalHours < 1 ? $"{span.TotalMinutes:0}m"
        : span.TotalDays < 1 ? $"{span.TotalHours:0}h" : $"{span.TotalDays:0}d";
}

/// <summary><c>afs basilica ls</c>: name, state, phase, age and TTL left of each deployment afs created.</summary>
internal sealed class BasilicaListCommand : AfsCommand
{
    private readonly Option<string?> _apiUrl = BasilicaAccess.ApiUrlOption();

    public BasilicaListCommand()
        : base("ls", "List the Basilica deployments afs created, with phase, age and TTL left.")
    {
        Options.Add(_apiUrl);
    }

    protected override string DisplayName => "basilica ls";

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        using var deployments = BasilicaAccess.Connect(context, _apiUrl);
        var mine = await deployments.ListMineAsync(cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var rows = mine.Select(d => new
        {
            name = d.Name,
            instance = d.InstanceName,
            state = d.State,
            phase = d.Phase,
            ready = $"{d.ReadyReplicas}/{d.DesiredReplicas}",
            age_seconds = d.CreatedAt is { } c ? (long?)(now - c).TotalSeconds : null,
            ttl_left_seconds = d.ExpiresAt is { } e ? (long?)Math.Max(0, (e - now).TotalSeconds) : null,
            image = d.Image,
            url = d.Url,
        }).ToList();
        if (context.Json)
        {
            context.Console.WriteJson(rows);
            return ExitCodes.Ok;
        }
        if (rows.Count == 0)
        {
            context.Console.Line($"no deployments of afs on {deployments.Api}");
            return ExitCodes.Ok;
        }
        // NAME: the one given to afs run --name (afs call NAME finds it by it); INSTANCE: Basilica's own.
        var table = context.Console.Table("NAME", "INSTANCE", "STATE", "PHASE", "READY", "AGE", "TTL LEFT", "IMAGE", "URL");
        foreach (var r in rows)
        {
            table.AddTextRow(r.name ?? "-", r.instance, r.state ?? "?", r.phase ?? "-", r.ready,
                r.age_seconds is { } a ? BasilicaCommand.Age(TimeSpan.FromSeconds(a)) : "?",
                r.ttl_left_seconds is { } t ? BasilicaCommand.Age(TimeSpan.FromSeconds(t)) : "?", r.image ?? "?", r.url ?? "-");
        }
        context.Console.Write(table);
        return ExitCodes.Ok;
    }
}

/// <summary><c>afs basilica rm NAME... | --all-mine</c>: deletes deployments (retried until gone); "already gone" is fine.</summary>
internal sealed class BasilicaRemoveCommand : AfsCommand
{
    private readonly Argument<string[]> _names = new("name") { Description = "deployments to delete (afs basilica ls lists them)", Arity = ArgumentArity.ZeroOrMore };
    private readonly Option<bool> _allMine = new("--all-mine") { Description = "delete every deployment afs created (what a crashed validator left)" };
    private readonly Option<string?> _apiUrl = BasilicaAccess.ApiUrlOption();

    public BasilicaRemoveCommand()
        : base("rm", "Delete Basilica deployments by name, or every one afs created (--all-mine).")
    {
        Arguments.Add(_names);
        Options.Add(_allMine);
        Options.Add(_apiUrl);
    }

    protected override string DisplayName => "basilica rm";

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var names = context.Get(_names) ?? [];
        var allMine = context.Get(_allMine);
        if (names.Length == 0 == !allMine)
        {
            throw new UsageException("name the deployments to delete (afs basilica rm NAME...), or give --all-mine, not both");
        }
        using var deployments = BasilicaAccess.Connect(context, _apiUrl);
        (string Name, bool Deleted)[] outcomes;
        if (allMine)
        {
            outcomes = [.. (await deployments.DeleteAllMineAsync(cancellationToken)).Select(o => (o.Deployment.InstanceName, o.Deleted))];
        }
        else
        {
            // A name the user gave (afs run --name) or Basilica's own; one that no longer exists is "gone already".
            outcomes = await Task.WhenAll(names.Select(async name =>
            {
                string instance;
                try
                {
                    instance = (await deployments.FindAsync(name, cancellationToken)).InstanceName;
                }
                catch (BasilicaApiException e) when (e.StatusCode == 404)
                {
                    return (name, false);
                }
                return (instance == name ? name : $"{name} ({instance})", await deployments.DeleteAsync(instance, cancellationToken));
            }));
        }
        if (context.Json)
        {
            context.Console.WriteJson(outcomes.Select(o => new { name = o.Name, deleted = o.Deleted }));
            return ExitCodes.Ok;
        }
        if (outcomes.Length == 0)
        {
            context.Console.Line($"nothing to delete: no deployments of afs on {deployments.Api}");
            return ExitCodes.Ok;
        }
        foreach (var (name, deleted) in outcomes)
        {
            context.Console.Line(deleted ? $"deleted {name}" : $"{name} was gone already");
        }
        context.Console.Line($"{string.Format(CultureInfo.InvariantCulture, "{0}", outcomes.Count(o => o.Deleted))} deleted");
        return ExitCodes.Ok;
    }
}
