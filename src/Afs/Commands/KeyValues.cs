namespace Affinetes.Afs.Commands;

/// <summary>Reads repeated <c>K=V</c> options (<c>--build-arg</c>, <c>--env</c>, <c>--arg</c>).</summary>
internal static class KeyValues
{
    public static Dictionary<string, string> Parse(IEnumerable<string>? values, string option)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values ?? [])
        {
            var equals = value.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new ArgumentException($"{option} '{value}' is not KEY=VALUE");
            }
            result[value[..equals]] = value[(equals + 1)..];
        }
        return result;
    }
}
