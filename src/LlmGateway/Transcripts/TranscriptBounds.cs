using Affinetes.Protocol;

namespace Affinetes.LlmGateway.Transcripts;

/// <summary>
/// The bounds of one environment's transcripts: <see cref="TranscriptLimits"/> per text and per task, and what the
/// environment may hold in all until its tasks are collected (characters and tasks); past those, exchanges are only
/// counted as dropped.
/// </summary>
internal sealed record TranscriptBounds
{
    public static readonly TranscriptBounds Default = new();

    public int MessageChars { get; init; } = TranscriptLimits.MessageChars;

    public int TaskChars { get; init; } = TranscriptLimits.TaskChars;

    public int ExchangesPerTask { get; init; } = TranscriptLimits.ExchangesPerTask;

    public int ErrorChars { get; init; } = TranscriptLimits.ErrorChars;

    /// <summary>Characters held for all tasks not collected yet (64 Mi: at most 128 MB of strings).</summary>
    public long EnvironmentChars { get; init; } = 64L * 1024 * 1024;

    /// <summary>Tasks held at once, as the usage meter tracks them.</summary>
    public int MaxTasks { get; init; } = 20_000;
}
