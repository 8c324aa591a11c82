using System.IO.Compression;
using System.Text.Json;
using Affinetes.Protocol;

namespace Affinetes.ValidatorClient.Results;

/// <summary>
/// What one task said to the model and got back through the LLM gateway: its exchanges, oldest first (see
/// <see cref="ExchangeRecord"/>: messages, reply, reasoning, model, status, latency, tokens; bounded by
/// <see cref="TranscriptLimits"/>).
/// </summary>
/// <param name="Exchanges">The exchanges kept.</param>
/// <param name="ExchangesDropped">Exchanges the gateway counted but did not keep (beyond its limits).</param>
public sealed record LlmTranscript(IReadOnlyList<ExchangeRecord> Exchanges, int ExchangesDropped = 0)
{
    /// <summary>The transcript of <paramref name="record"/>, or null when the gateway kept no exchange of the task.</summary>
    public static LlmTranscript? Of(TaskRecord record) =>
        record.Exchanges.Count == 0 && record.ExchangesDropped == 0 ? null : new LlmTranscript(record.Exchanges, record.ExchangesDropped);

    /// <summary>This transcript followed by <paramref name="later"/>'s exchanges.</summary>
    public LlmTranscript Append(LlmTranscript later) => new([.. Exchanges, .. later.Exchanges], ExchangesDropped + later.ExchangesDropped);
}

/// <summary>A transcript as the store keeps it: the JSON array of its exchanges, gzip-compressed.</summary>
internal static class TranscriptData
{
    public static byte[] Encode(IReadOnlyList<ExchangeRecord> exchanges)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            JsonSerializer.Serialize(gzip, exchanges, GatewayJson.Default.IReadOnlyListExchangeRecord);
        }
        return buffer.ToArray();
    }

    public static IReadOnlyList<ExchangeRecord> Decode(Stream data)
    {
        using var gzip = new GZipStream(data, CompressionMode.Decompress);
        return JsonSerializer.Deserialize(gzip, GatewayJson.Default.IReadOnlyListExchangeRecord) ?? [];
    }
}
