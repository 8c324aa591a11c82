using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Affinetes.ValidatorClient.Miners;

/// <summary>
/// A strict check of a Docker image reference, as the distribution reference grammar has it:
/// <c>[host[:port]/]path[:tag][@sha256:64hex]</c>, path components lowercase letters and digits joined by <c>.</c>,
/// <c>_</c>, <c>__</c> or dashes, a tag of at most 128 characters, a name of at most 255. What a miner committed is a
/// stranger's text: it is checked before Docker ever sees it.
/// </summary>
public static partial class ImageReference
{
    private const int MaxNameLength = 255;

    /// <summary>Null when <paramref name="reference"/> is a valid image reference; else why not, in one line.</summary>
    public static string? Check(string reference)
    {
        var why = Reason(reference);
        return why is null ? null : $"{Quote(reference)} is not a valid image reference: {why}";
    }

    private static string? Reason(string reference)
    {
        if (reference.Length == 0)
        {
            return "it is empty";
        }
        if (reference.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return "it holds spaces or control characters";
        }
        var rest = reference;
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            if (!Digest().IsMatch(rest[(at + 1)..]))
            {
                return "the digest after '@' must be sha256: and 64 lowercase hex digits";
            }
            rest = rest[..at];
        }
        var colon = rest.LastIndexOf(':');
        if (colon > rest.LastIndexOf('/'))
        {
            var tag = rest[(colon + 1)..];
            if (!Tag().IsMatch(tag))
            {
                return $"the tag {Quote(tag)} must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'";
            }
            rest = rest[..colon];
        }
        if (rest.Length == 0)
        {
            return "it has no name";
        }
        if (rest.Length > MaxNameLength)
        {
            return $"the name is {rest.Length} characters long, more than {MaxNameLength}";
        }
        var components = rest.Split('/');
        var first = components[0];
        if (components.Length > 1 && (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost"))
        {
            if (HostReason(first) is { } hostWhy)
            {
                return hostWhy;
            }
            components = components[1..];
        }
        foreach (var component in components)
        {
            if (!PathComponent().IsMatch(component))
            {
                return component.Length == 0
                    ? "it has an empty path component"
                    : component.Any(char.IsUpper)
                        ? $"the path component {Quote(component)} has capital letters (image names are lowercase)"
                        : $"the path component {Quote(component)} must be lowercase letters and digits joined by '.', '_', '__' or '-'";
            }
        }
        return null;
    }

    private static string? HostReason(string domain)
    {
        var colon = domain.IndexOf(':', StringComparison.Ordinal);
        var host = colon < 0 ? domain : domain[..colon];
        if (colon >= 0 && !(int.TryParse(domain[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535))
        {
            return $"the registry port in {Quote(domain)} is not 1 to 65535";
        }
        return host.Split('.').All(label => HostLabel().IsMatch(label))
            ? null
            : $"the registry host {Quote(host)} is not a host name";
    }

    /// <summary>
    /// <paramref name="text"/> (a reference, a message) with every <c>sha256:</c> digest cut to its first 12 hex digits
    /// and "...", as <c>docker images</c> shows ids: for tables and reasons, where a pinned reference would otherwise take
    /// 64 characters more each time it is named.
    /// </summary>
    public static string ShortenDigests(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return LongDigest().Replace(text, "sha256:$1...");
    }

    /// <summary>Untrusted text for a message: at most 80 characters, control characters escaped, in single quotes.</summary>
    internal static string Quote(string text)
    {
        var shown = new StringBuilder();
        foreach (var c in text.Length > 80 ? text[..80] : text)
        {
            shown.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        }
        return $"'{shown}{(text.Length > 80 ? "..." : "")}'";
    }

    [GeneratedRegex("^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\\z", RegexOptions.CultureInvariant)]
    private static partial Regex PathComponent();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Tag();

    [GeneratedRegex("^sha256:[0-9a-f]{64}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Digest();

    [GeneratedRegex("sha256:([0-9a-f]{12})[0-9a-f]{52}(?![0-9a-f])", RegexOptions.CultureInvariant)]
    private static partial Regex LongDigest();

    [GeneratedRegex("^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])\\z", RegexOptions.CultureInvariant)]
    private static partial Regex HostLabel();
}
