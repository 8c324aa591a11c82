namespace Affinetes.Afs.Cli;

/// <summary>The word of a list nearest to one typed: for "did you mean" (edit distance at most 2, or a prefix).</summary>
internal static class Nearest
{
    public static string? Of(string typed, IEnumerable<string> words)
    {
        var best = words
            .Select(w => (Word: w, Distance: w.StartsWith(typed, StringComparison.OrdinalIgnoreCase) && typed.Length >= 2 ? 0 : Distance(typed.ToLowerInvariant(), w.ToLowerInvariant())))
            .OrderBy(c => c.Distance).ThenBy(c => c.Word, StringComparer.Ordinal).FirstOrDefault();
        return best.Word is not null && best.Distance <= Math.Min(2, Math.Max(1, typed.Length / 2)) ? best.Word : null;
    }

    /// <summary>Levenshtein distance, a transposition counting as one edit (Damerau's restricted form).</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }
}
