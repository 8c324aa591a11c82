using System.Globalization;
using System.Text.RegularExpressions;

namespace Affinetes.ValidatorClient.Environments;

/// <summary>A CPU amount, parsed the same way in every mode: <c>"2"</c>, <c>"0.5"</c> or <c>"2000m"</c>.</summary>
internal readonly record struct CpuQuantity(long Millicores)
{
    /// <summary>Docker's <c>NanoCPUs</c>.</summary>
    public long NanoCpus => Millicores * 1_000_000;

    /// <summary>Kubernetes / Basilica form, e.g. <c>"2000m"</c>.</summary>
    public string ToMillicoreString() => Millicores.ToString(CultureInfo.InvariantCulture) + "m";

    public override string ToString() => ToMillicoreString();

    /// <summary>Parses a CPU amount or throws <see cref="FormatException"/> naming the value and the accepted forms.</summary>
    public static CpuQuantity Parse(string value)
    {
        var text = value?.Trim() ?? "";
        long millicores;
        if (text.EndsWith('m') && long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var m))
        {
            millicores = m;
        }
        else if (decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var cores) && cores * 1000 == decimal.Truncate(cores * 1000))
        {
            millicores = (long)(cores * 1000);
        }
        else
        {
            throw new FormatException($"cpu limit '{value}' is not a CPU quantity; use '2', '0.5' or '2000m'");
        }
        if (millicores <= 0)
        {
            throw new FormatException($"cpu limit '{value}' must be more than zero; use '2', '0.5' or '2000m'");
        }
        return new CpuQuantity(millicores);
    }
}

/// <summary>
/// A memory amount, parsed the same way in every mode. Binary units: <c>"8Gi"</c>, <c>"512Mi"</c>, and Docker's
/// single letters <c>"1g"</c>, <c>"512m"</c>, <c>"64k"</c> (either case, optional trailing <c>b</c>); a bare number is bytes.
/// </summary>
internal readonly partial record struct MemoryQuantity(long Bytes)
{
    private const string AcceptedForms = "use '8Gi', '512Mi', '1g' or '512m'";

    /// <summary>Kubernetes / Basilica form: whole <c>Gi</c> when exact, else <c>Mi</c> rounded up.</summary>
    public string ToKubernetesString()
    {
        const long mi = 1L << 20;
        const long gi = 1L << 30;
        return Bytes % gi == 0
            ? (Bytes / gi).ToString(CultureInfo.InvariantCulture) + "Gi"
            : ((Bytes + mi - 1) / mi).ToString(CultureInfo.InvariantCulture) + "Mi";
    }

    public override string ToString() => ToKubernetesString();

    /// <summary>Parses a memory amount or throws <see cref="FormatException"/> naming the value and the accepted forms.</summary>
    public static MemoryQuantity Parse(string value)
    {
        var match = MemoryPattern().Match(value?.Trim() ?? "");
        if (!match.Success || !decimal.TryParse(match.Groups["n"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            throw new FormatException($"memory limit '{value}' is not a memory quantity; {AcceptedForms}");
        }
        var unit = match.Groups["u"].Value.ToLowerInvariant().TrimEnd('b').TrimEnd('i');
        var shift = unit switch
        {
            "" => 0,
            "k" => 10,
            "m" => 20,
            "g" => 30,
            "t" => 40,
            _ => -1,
        };
        if (shift < 0)
        {
            throw new FormatException($"memory limit '{value}' has an unknown unit; {AcceptedForms}");
        }
        var bytes = decimal.Ceiling(amount * (1L << shift));
        if (bytes <= 0 || bytes > long.MaxValue)
        {
            throw new FormatException($"memory limit '{value}' is out of range; {AcceptedForms}");
        }
        return new MemoryQuantity((long)bytes);
    }

    [GeneratedRegex(@"^(?<n>[0-9]+(\.[0-9]+)?)\s*(?<u>([kKmMgGtT]i?[bB]?)|[bB])?$")]
    private static partial Regex MemoryPattern();
}
