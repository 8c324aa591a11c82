namespace Affinetes.ValidatorClient.Miners;

/// <summary>
/// Where each miner's image comes from: a JSON file of uid to image (<see cref="MinersSource.FromFile"/>) or the
/// commitments on a subtensor node (<see cref="MinersSource.FromSubtensor"/>). Scoring asks a source, never a command.
/// </summary>
public interface IMinersSource
{
    /// <summary>What is read, for messages: "the miners file miners.json", "subnet 7 at ws://127.0.0.1:9944".</summary>
    string Describe { get; }

    /// <summary>
    /// Reads every miner. A miner without a usable image is an entry with a <see cref="MinerEntry.Problem"/>; a source
    /// that cannot be read at all raises <see cref="MinersSourceException"/>.
    /// </summary>
    Task<MinerSet> ReadAsync(CancellationToken cancellationToken = default);
}

/// <summary>The miners sources.</summary>
public static class MinersSource
{
    /// <summary>A JSON file mapping uid to image reference, e.g. <c>{"1": "registry/miner-a:v3"}</c>; read anew on each <see cref="IMinersSource.ReadAsync"/>.</summary>
    public static IMinersSource FromFile(string path) => new JsonFileMinersSource(path);

    /// <summary>
    /// The miners of a subnet as a subtensor node holds them: each uid's hotkey (<c>SubtensorModule.Keys</c>) and that
    /// hotkey's commitment (<c>Commitments.CommitmentOf</c>), all read at one block. The options are checked here.
    /// </summary>
    public static IMinersSource FromSubtensor(SubtensorOptions options) => new SubtensorMinersSource(options);
}
