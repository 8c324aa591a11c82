using System.Globalization;
using Affinetes.Afs.Cli;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs miners --subtensor URL --netuid N</c> (or <c>afs miners MINERS.json</c>): the miners <c>afs score</c> would
/// evaluate: uid, hotkey, committed image (or why there is none) and the block of the commitment, read through the
/// library's miners sources at one block.
/// </summary>
internal sealed class MinersCommand : AfsCommand
{
    private readonly MinersOptions _miners = new("miners");

    public MinersCommand()
        : base("miners", "List the miners and their committed images, from a subtensor node or a miners file.")
    {
        _miners.AddTo(this);
    }

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var source = _miners.Source(context);
        var set = await source.ReadAsync(cancellationToken);
        if (context.Json)
        {
            context.Console.WriteJson(new
            {
                source = source.Describe,
                block = set.Block is { } b ? new { number = b.Number, hash = b.Hash } : null,
                miners = set.Miners.Select(m => new { uid = m.Uid, hotkey = m.Hotkey, image = m.Image, problem = m.Problem, commit_block = m.CommitBlock }),
            });
            return ExitCodes.Ok;
        }
        context.Console.Line($"{source.Describe}{(set.Block is { } at ? $", block #{at.Number.ToString(CultureInfo.InvariantCulture)} ({at.Hash})" : "")}: " +
            $"{AfsConsole.Plural(set.Miners.Count, "miner")}, {set.Miners.Count(m => m.HasImage)} with a usable image");
        var table = context.Console.Table("UID", "HOTKEY", "IMAGE", "COMMITTED AT");
        foreach (var m in set.Miners)
        {
            table.AddTextRow(m.Uid, m.Hotkey ?? "-", m.Image ?? $"({m.Problem})", m.CommitBlock?.ToString(CultureInfo.InvariantCulture) ?? "-");
        }
        context.Console.Write(table);
        return ExitCodes.Ok;
    }
}
