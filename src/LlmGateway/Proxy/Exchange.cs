using Affinetes.LlmGateway.Transcripts;
using Affinetes.LlmGateway.Usage;

namespace Affinetes.LlmGateway.Proxy;

/// <summary>What one forwarded request learned on its way back: the upstream's status and the usage it reported.</summary>
internal sealed class Exchange(bool expectsUsage, bool usageAdded)
{
    /// <summary>A completion or embedding, whose answer should carry <c>usage</c> (a model list does not).</summary>
    public bool ExpectsUsage { get; } = expectsUsage;

    /// <summary>The gateway asked for the usage chunk; it is removed from what the client sees.</summary>
    public bool UsageAdded { get; } = usageAdded;

    /// <summary>The upstream's status code, 0 until its headers arrived.</summary>
    public int UpstreamStatus { get; set; }

    /// <summary>The last <c>usage</c> the upstream reported (a stream may report it in every chunk, cumulatively).</summary>
    public TokenCounts? Tokens { get; set; }

    /// <summary>Assembles the answer for the task's transcript; null when the exchange is not recorded.</summary>
    internal ReplyAssembler? Reply { get; init; }
}
