using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Miners;

/// <summary>
/// The miners could not be read at all: the miners file is missing or malformed, the subtensor node cannot be reached
/// or answered an error, the subnet does not exist, or the node is not a subtensor node. One miner without a usable
/// image is not an error: it is a <see cref="MinerEntry.Problem"/>.
/// </summary>
public sealed class MinersSourceException(string message, bool retryable = false, Exception? inner = null) : AffinetesException(message, inner)
{
    /// <summary>True when reading again later may succeed: the node was unreachable or did not answer in time.</summary>
    public override bool IsRetryable => retryable;
}
