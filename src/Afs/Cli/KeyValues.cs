namespace Affinetes.Afs.Cli;

/// <summary>Reads repeated <c>K=V</c> options (<c>--build-arg</c>, <c>--env</c>).</summary>
internal static class KeyValues
{
    /// <summary>The pairs, later ones winning; with <paramref name="secret"/> a malformed value is not echoed in the error.</summary>
    public static Dictionary<string, string> Parse(IEnumerable<string>? values, string option, bool secret = false)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values ?? [])
        {
            var equals = value.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException(secret
                    ? $"{option} expects KEY=VALUE; one value has no KEY= (it is not shown: it may be a secret)"
                    : $"{option} '{value}' is not KEY=VALUE");
            }
            result[value[..equals]] = value[(equals + 1)..];
        }
        return result;
    }
}
