using Affinetes.Protocol;

namespace Affinetes.ActorHost.Endpoints;

/// <summary>The answer for a name that is not a method: what the methods are, and the one probably meant.</summary>
internal static class MethodNames
{
    public static ErrorDetail NotFound(string name, IReadOnlyList<MethodDescriptor> methods)
    {
        var names = methods.Select(m => m.Name).Order(StringComparer.Ordinal).ToList();
        var listing = names.Count == 0 ? "the actor has no public methods" : "methods: " + string.Join(", ", names);
        if (name.Length == 0)
        {
            return new ErrorDetail
            {
                Code = ErrorCodes.InvalidArguments,
                Message = $"'method' is empty; name one of the actor's methods ({listing})",
                Parameter = "method",
            };
        }
        var nearest = Nearest(name, names);
        return new ErrorDetail
        {
            // "Method not found: X" first: the original's clients print and match that text.
            Code = ErrorCodes.MethodNotFound,
            Message = $"Method not found: {name}" + (nearest is null ? "" : $"; did you mean '{nearest}'?") + $" ({listing})",
            Method = name,
        };
    }

    /// <summary>The closest name by edit distance (case-insensitive), when it is close enough to be a typo.</summary>
    public static string? Nearest(string name, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var distance = EditDistance(name.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }
        // A typo changes a few characters: at most a third of the longer name, and never the whole of it.
        return best is not null && bestDistance <= Math.Max(1, Math.Max(name.Length, best.Length) / 3) ? best : null;
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
