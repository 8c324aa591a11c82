using System.CommandLine;
using System.Globalization;
using Affinetes.Afs.Cli;
using Affinetes.ValidatorClient.Backends.Basilica;

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

    /// <summary>A deployment of Basilica's list that is ours: named with our prefix, or noted by one of this user's clients on this API.</summary>
    internal static async Task<List<(Deployment Deployment, OwnedDeployment? Note)>> MineAsync(BasilicaApi api, OwnedDeployments owned, CancellationToken cancellationToken)
    {
        var notes = owned.List().Where(n => n.ApiUrl == api.Root.ToString()).ToDictionary(n => n.InstanceName);
        var listed = await api.ListAsync(cancellationToken);
        return [.. listed.Deployments
            .Where(d => OwnedDeployments.HasPrefix(d.InstanceName) || notes.ContainsKey(d.InstanceName))
            .Select(d => (d, notes.GetValueOrDefault(d.InstanceName)))];
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
        using var api = BasilicaAccess.Connect(context, _apiUrl);
        var mine = await BasilicaCommand.MineAsync(api, BasilicaAccess.Owned(context, _apiUrl), cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var rows = mine.Select(m => new
        {
            name = m.Deployment.InstanceName,
            state = m.Deployment.State,
            phase = m.Deployment.Phase,
            ready = $"{m.Deployment.Replicas?.Ready ?? 0}/{m.Deployment.Replicas?.Desired ?? 0}",
            age_seconds = m.Deployment.CreatedAt is { } c ? (long?)(now - c).TotalSeconds : null,
            ttl_left_seconds = m.Note is { } n ? (long?)Math.Max(0, (n.ExpiresAt - now).TotalSeconds) : null,
            image = m.Note?.Image,
            url = m.Deployment.Url,
        }).ToList();
        if (context.Json)
        {
            context.Console.WriteJson(rows);
            return ExitCodes.Ok;
        }
        if (rows.Count == 0)
        {
            context.Console.Line($"no deployments of afs on {api.Root}");
            return ExitCodes.Ok;
        }
        var table = context.Console.Table("NAME", "STATE", "PHASE", "READY", "AGE", "TTL LEFT", "IMAGE", "URL");
        foreach (var r in rows)
        {
            table.AddTextRow(r.name, r.state ?? "?", r.phase ?? "-", r.ready,
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
        using var api = BasilicaAccess.Connect(context, _apiUrl);
        var owned = BasilicaAccess.Owned(context, _apiUrl);
        var targets = allMine
            ? (await BasilicaCommand.MineAsync(api, owned, cancellationToken)).Select(m => m.Deployment.InstanceName).ToList()
            : [.. names];
        var outcomes = await Task.WhenAll(targets.Select(async name =>
        {
            var deleted = await api.DeleteAsync(name, cancellationToken);
            owned.Forget(name);
            return (name, deleted);
        }));
        if (allMine)
        {
            // Notes of deployments Basilica no longer lists (deleted elsewhere, or their TTL passed) are stale.
            var listed = targets.ToHashSet();
            foreach (var stale in owned.List().Where(n => n.ApiUrl == api.Root.ToString() && !listed.Contains(n.InstanceName)))
            {
                owned.Forget(stale.InstanceName);
            }
        }
        if (context.Json)
        {
            context.Console.WriteJson(outcomes.Select(o => new { name = o.name, deleted = o.deleted }));
            return ExitCodes.Ok;
        }
        if (outcomes.Length == 0)
        {
            context.Console.Line($"nothing to delete: no deployments of afs on {api.Root}");
            return ExitCodes.Ok;
        }
        foreach (var (name, deleted) in outcomes)
        {
            context.Console.Line(deleted ? $"deleted {name}" : $"{name} was gone already");
        }
        context.Console.Line($"{string.Format(CultureInfo.InvariantCulture, "{0}", outcomes.Count(o => o.deleted))} deleted");
        return ExitCodes.Ok;
    }
}
