using System.CommandLine;
using Affinetes.ValidatorClient.Miners;

namespace Affinetes.Afs.Cli;

/// <summary>
/// Where the miners come from, as <c>afs score</c> and <c>afs miners</c> take it: a JSON file of uid to image, or
/// <c>--subtensor URL --netuid N</c> (and <c>--block</c>): one of them, mapped to the library's miners source.
/// </summary>
internal sealed class MinersOptions(string command)
{
    public Argument<string?> File { get; } = new("miners") { Description = "JSON file mapping miner uid to image reference, e.g. {\"1\": \"registry/miner-a:v3\"} (or --subtensor)", Arity = ArgumentArity.ZeroOrOne };
    public Option<string?> Subtensor { get; } = new("--subtensor") { Description = "read the miners' committed images from this subtensor node: ws://, wss://, http:// or https:// (with --netuid)" };
    public Option<int?> NetUid { get; } = new("--netuid") { Description = "the subnet whose miners are read from --subtensor" };
    public Option<long?> Block { get; } = new("--block") { Description = "with --subtensor: read the commitments at this block number (default: the latest finalized block)" };

    public void AddTo(Command target)
    {
        target.Arguments.Add(File);
        target.Options.Add(Subtensor);
        target.Options.Add(NetUid);
        target.Options.Add(Block);
    }

    /// <summary>The source the options name; exactly one of the file and the node.</summary>
    public IMinersSource Source(CommandContext context)
    {
        var file = context.Get(File);
        var subtensor = context.Get(Subtensor);
        if (file is not null && subtensor is not null)
        {
            throw new UsageException($"give the miners file or --subtensor, not both (got '{file}' and --subtensor {subtensor})");
        }
        if (subtensor is null)
        {
            if (context.Get(NetUid) is not null || context.Get(Block) is not null)
            {
                throw new UsageException("--netuid and --block go with --subtensor URL");
            }
            return MinersSource.FromFile(file ?? throw new UsageException($"name the miners: a JSON file of uid to image (afs {command} miners.json), or --subtensor URL --netuid N"));
        }
        if (context.Get(NetUid) is not { } netuid)
        {
            throw new UsageException("--subtensor needs --netuid N, the subnet whose miners are read");
        }
        if (netuid is < 0 or > ushort.MaxValue)
        {
            throw new UsageException($"--netuid {netuid}: give 0 to {ushort.MaxValue}");
        }
        try
        {
            return MinersSource.FromSubtensor(new SubtensorOptions { Url = subtensor, NetUid = (ushort)netuid, BlockNumber = context.Get(Block) });
        }
        catch (MinersSourceException e)
        {
            throw new UsageException($"--subtensor: {e.Message}");
        }
    }
}
