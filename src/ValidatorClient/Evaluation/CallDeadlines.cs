using System.Globalization;
using System.Text.Json;
using Affinetes.Protocol;

namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>
/// The deadline a call gets when its caller names none, so that no call waits forever on code that never returns:
/// the <c>timeout</c> the call passes to the method, else the one the method declares as its default, plus the
/// original's grace of <see cref="TimeoutKwarg.GraceSeconds"/> s (the environment bounds its own work by it and
/// needs a moment to answer); else a fixed default. <see cref="Timeout.InfiniteTimeSpan"/> asks for no deadline.
/// </summary>
public static class CallDeadlines
{
    /// <summary>A task of an evaluation whose method has no <c>timeout</c>: 600 s.</summary>
    public static readonly TimeSpan EvaluationDefault = TimeSpan.FromSeconds(600);

    /// <summary>One call by hand (<c>afs call</c>) to a method without <c>timeout</c>: 300 s.</summary>
    public static readonly TimeSpan CallDefault = TimeSpan.FromSeconds(300);

    /// <summary>What is added to a <c>timeout</c> argument: the original's grace.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(TimeoutKwarg.GraceSeconds);

    /// <summary>
    /// The deadline for calling <paramref name="method"/> (its descriptor, when known) with <paramref name="kwargs"/>:
    /// their <c>timeout</c> + grace, else the method's declared default <c>timeout</c> + grace, else
    /// <paramref name="fallback"/>. A <c>timeout</c> that is not a positive number of seconds counts as absent.
    /// </summary>
    public static TimeSpan For(MethodDescriptor? method, IReadOnlyDictionary<string, object?>? kwargs, TimeSpan fallback)
    {
        if (kwargs is not null && kwargs.TryGetValue(TimeoutKwarg.Name, out var given) && Seconds(given) is { } passed)
        {
            return passed + Grace;
        }
        if (method?.Parameters.FirstOrDefault(p => p.Name == TimeoutKwarg.Name)?.Default is { } declared && Seconds(declared) is { } byDefault)
        {
            return byDefault + Grace;
        }
        return fallback;
    }

    /// <summary>Describes a deadline for people: <c>610 s</c>, <c>none</c>.</summary>
    public static string Describe(TimeSpan? deadline) => deadline is not { } d || d == Timeout.InfiniteTimeSpan
        ? "none"
        : d.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    private static TimeSpan? Seconds(object? value)
    {
        double? seconds = value switch
        {
            JsonElement { ValueKind: JsonValueKind.Number } n => n.GetDouble(),
            JsonElement { ValueKind: JsonValueKind.String } s => Parse(s.GetString()),
            string s => Parse(s),
            IConvertible c and not bool => c.ToDouble(CultureInfo.InvariantCulture),
            _ => null,
        };
        return seconds is > 0 and < 1e7 && double.IsFinite(seconds.Value) ? TimeSpan.FromSeconds(seconds.Value) : null;
    }

    private static double? Parse(string? text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;
}
