using Affinetes.LlmGateway.Usage;
using Affinetes.Protocol;

namespace Affinetes.LlmGateway.Transcripts;

/// <summary>One exchange as the proxy saw it, whole, before the recorder bounds and keeps it.</summary>
internal sealed class ExchangeDraft
{
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>The API path after <c>/v1/</c>.</summary>
    public required string Endpoint { get; init; }

    /// <summary>The model the request named.</summary>
    public string? Model { get; set; }

    public bool Stream { get; set; }

    public IReadOnlyList<ExchangeMessage> Messages { get; set; } = [];

    /// <summary>The answer as it went through; null for a request the gateway refused.</summary>
    public ReplyAssembler? Reply { get; set; }

    public int Status { get; set; }

    /// <summary>The gateway's own error (code and message), for refusals and upstream failures.</summary>
    public string? Error { get; set; }

    public TimeSpan Latency { get; set; }

    public TokenCounts? Tokens { get; set; }
}
