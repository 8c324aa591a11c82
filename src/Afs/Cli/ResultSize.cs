using System.CommandLine;
using System.Globalization;
using Affinetes.Protocol;

namespace Affinetes.Afs.Cli;

/// <summary><c>--max-result-size</c>: the most bytes a call's result may have (host and client refuse more).</summary>
internal static class ResultSize
{
    private static readonly (string Suffix, long Scale)[] Units =
    [
        ("GiB", 1L << 30), ("Gi", 1L << 30), ("G", 1L << 30),
        ("MiB", 1L << 20), ("Mi", 1L << 20), ("M", 1L << 20),
        ("KiB", 1L << 10), ("Ki", 1L << 10), ("K", 1L << 10),
        ("B", 1),
    ];

    /// <summary>The option: <c>16Mi</c>, <c>512Ki</c>, <c>1Gi</c> or a number of bytes; a result past it fails its task as <c>result_too_large</c>.</summary>
    public static Option<long?> Option() => new("--max-result-size")
    {
        Description = $"the most a call's result may be: 16Mi, 512Ki, 1Gi or bytes (default {ResultLimits.Describe(ResultLimits.DefaultMaxBytes).Replace(" ", "", StringComparison.Ordinal)}); " +
            "a larger result is refused by the host and never read, and its task fails as result_too_large",
        HelpName = "SIZE",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 0 ? "" : result.Tokens[0].Value.Trim();
            if (TryParse(text, out var bytes) && bytes is >= 1024 and <= int.MaxValue - 65536)
            {
                return bytes;
            }
            result.AddError($"--max-result-size '{text}' is not a size from 1Ki to 2Gi; give e.g. 16Mi, 512Ki or 1Gi");
            return null;
        },
    };

    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        var (suffix, scale) = Units.FirstOrDefault(u => text.EndsWith(u.Suffix, StringComparison.OrdinalIgnoreCase));
        var number = suffix is null ? text : text[..^suffix.Length].TrimEnd();
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            return false;
        }
        var total = value * (suffix is null ? 1 : scale);
        if (total > long.MaxValue / 2)
        {
            return false;
        }
        bytes = (long)total;
        return true;
    }
}
