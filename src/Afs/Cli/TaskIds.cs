using System.CommandLine;
using System.Globalization;

namespace Affinetes.Afs.Cli;

/// <summary>Task sets as typed on the command line: <c>1-100,200,300-310</c>.</summary>
internal static class TaskIds
{
    /// <summary>At most this many tasks in one set (a typo such as <c>1-10000000000</c> is caught, not run).</summary>
    public const long MaxTasks = 10_000_000;

    /// <summary>The <c>--tasks</c> option: ids and ranges, comma separated, parsed with a message that says what is wanted.</summary>
    public static Option<IReadOnlyList<long>?> Option(string description) => new("--tasks")
    {
        Description = description,
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 0 ? "" : result.Tokens[0].Value;
            if (TryParse(text, out var ids, out var error))
            {
                return ids;
            }
            result.AddError($"--tasks '{text}': {error}");
            return null;
        },
    };

    /// <summary>Parses <c>1-100,200,300-310</c> into ids in order; a repeated id is kept once.</summary>
    public static bool TryParse(string text, out IReadOnlyList<long> ids, out string error)
    {
        var list = new List<long>();
        var seen = new HashSet<long>();
        ids = list;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "no task ids; give ids and ranges, e.g. 1-100,200,300-310";
            return false;
        }
        var parts = text.Split(',');
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i].Trim();
            if (part.Length == 0)
            {
                error = parts.Length == 1 ? "no task ids; give ids and ranges, e.g. 1-100,200,300-310"
                    : i == 0 ? "the list starts with a comma; give ids and ranges, e.g. 1-100,200,300-310"
                    : i == parts.Length - 1 ? "the list ends with a comma; give ids and ranges, e.g. 1-100,200,300-310"
                    : $"item {i + 1} between two commas is empty; give ids and ranges, e.g. 1-100,200,300-310";
                return false;
            }
            var dash = part.IndexOf('-', 1);
            var (first, last) = dash < 0 ? (part, part) : (part[..dash].Trim(), part[(dash + 1)..].Trim());
            if (!long.TryParse(first, NumberStyles.Integer, CultureInfo.InvariantCulture, out var from)
                || !long.TryParse(last, NumberStyles.Integer, CultureInfo.InvariantCulture, out var to))
            {
                error = $"'{part}' is not a task id or a range FROM-TO; give e.g. 1-100,200,300-310";
                return false;
            }
            if (to < from)
            {
                error = $"the range {part} ends before it starts; write {to}-{from}";
                return false;
            }
            if (to - from + 1 > MaxTasks - list.Count)
            {
                error = $"more than {MaxTasks:N0} tasks; split the evaluation";
                return false;
            }
            for (var id = from; id <= to; id++)
            {
                if (seen.Add(id))
                {
                    list.Add(id);
                }
            }
        }
        return true;
    }

    /// <summary>Ids written back as ranges: <c>1-3,7</c>.</summary>
    public static string Format(IEnumerable<long> ids)
    {
        var sorted = ids.Order().ToList();
        var parts = new List<string>();
        for (var i = 0; i < sorted.Count;)
        {
            var j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1)
            {
                j++;
            }
            parts.Add(i == j ? sorted[i].ToString(CultureInfo.InvariantCulture) : $"{sorted[i].ToString(CultureInfo.InvariantCulture)}-{sorted[j].ToString(CultureInfo.InvariantCulture)}");
            i = j + 1;
        }
        return string.Join(',', parts);
    }
}
