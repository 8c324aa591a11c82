using System.Globalization;
using System.Text.Json;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.View;

/// <summary>How the pages write figures, times, statuses and names: one way each, HTML-encoded where it is HTML.</summary>
internal static class Format
{
    public static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string MeanWithInterval(double? mean, double? low, double? high) => mean is not { } m
        ? "<span class=\"muted\">–</span>"
        : $"{SvgCharts.Fmt(m)} <span class=\"muted\">[{SvgCharts.Fmt(low ?? m)}, {SvgCharts.Fmt(high ?? m)}]</span>";

    public static string MeanWithInterval(EvaluationSummary s) => s.Tasks == 0 ? MeanWithInterval(null, null, null) : MeanWithInterval(s.MeanScore, s.MeanScoreLow, s.MeanScoreHigh);

    public static string Percent(double? share) => share is { } s ? (s * 100).ToString("0.#", Inv) + "%" : "–";

    public static string Failed(int failed) => failed == 0 ? "0" : $"<span class=\"bad\">{failed}</span>";

    /// <summary>A digest's first 12 hex digits, the whole one on hover.</summary>
    public static string Digest(string? digest) => digest is null
        ? "<span class=\"muted\">–</span>"
        : $"<code title=\"{Html.Encode(digest)}\">{Html.Encode(ShortDigest(digest))}</code>";

    public static string ShortDigest(string digest) => digest.StartsWith("sha256:", StringComparison.Ordinal) ? digest[7..Math.Min(digest.Length, 19)] : Shorten(digest, 12);

    public static string Status(RunStatus status) => status switch
    {
        RunStatus.Completed => "<span class=\"ok\">completed</span>",
        RunStatus.Interrupted => "<span class=\"bad\">interrupted</span>",
        _ => "<span class=\"running\">running</span>",
    };

    public static string Date(DateTimeOffset at) => $"<time datetime=\"{at.UtcDateTime.ToString("O", Inv)}\">{at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Inv)} UTC</time>";

    /// <summary>A date for a one-line row: <c>12-01 10:04</c> this year, the year too otherwise.</summary>
    public static string ShortDate(DateTimeOffset at, DateTimeOffset now) =>
        $"<time datetime=\"{at.UtcDateTime.ToString("O", Inv)}\" title=\"{at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Inv)} UTC\">{at.UtcDateTime.ToString(at.Year == now.Year ? "MM-dd HH:mm" : "yyyy-MM-dd", Inv)}</time>";

    public static string Duration(TimeSpan? span) => span switch
    {
        null => "–",
        { TotalMilliseconds: < 1000 } s => s.TotalMilliseconds.ToString("0", Inv) + " ms",
        { TotalSeconds: < 120 } s => s.TotalSeconds.ToString("0.0", Inv) + " s",
        { TotalMinutes: < 120 } s => s.TotalMinutes.ToString("0.0", Inv) + " min",
        var s => s.Value.TotalHours.ToString("0.0", Inv) + " h",
    };

    public static string Shorten(string text, int max) => text.Length > max ? text[..(max - 1)] + "…" : text;

    /// <summary>The <c>model</c> of a run's kwargs, when it names one.</summary>
    public static string? ModelOf(RunInfo run)
    {
        try
        {
            using var kwargs = JsonDocument.Parse(run.Kwargs);
            return kwargs.RootElement.ValueKind == JsonValueKind.Object && kwargs.RootElement.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String
                ? model.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>What tells a run apart in one short line: its id, image and digest, model and label.</summary>
    public static string Identity(RunInfo run) => string.Join(" · ", new[]
    {
        run.Id, run.Environment, run.ImageDigest is { } d ? ShortDigest(d) : null, ModelOf(run) is { } m ? "model " + m : null, run.Label,
    }.Where(p => !string.IsNullOrEmpty(p)));

    /// <summary>The part of a run id that differs between runs made the same second: <c>a1b2</c> of <c>20261125-143012-a1b2</c>.</summary>
    public static string ShortId(string id) => id.LastIndexOf('-') is var dash and > 0 && dash < id.Length - 1 ? id[(dash + 1)..] : Shorten(id, 8);
}
