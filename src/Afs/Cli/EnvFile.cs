using System.Text.RegularExpressions;

namespace Affinetes.Afs.Cli;

/// <summary>
/// Reads a <c>.env</c> file: <c>KEY=VALUE</c> lines, optionally prefixed with <c>export</c>; blank lines and
/// <c>#</c> comments skipped; a value wrapped in matching single or double quotes is unwrapped. Errors name the line,
/// never its content (it may hold a secret).
/// </summary>
internal static partial class EnvFile
{
    public static Dictionary<string, string> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new UsageException($"--env-file {path}: no such file");
        }
        return Parse(File.ReadAllLines(path), path);
    }

    public static Dictionary<string, string> Parse(IReadOnlyList<string> lines, string source)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            var match = LinePattern().Match(line);
            if (!match.Success)
            {
                throw new UsageException($"--env-file {source}, line {i + 1}: expected KEY=VALUE with KEY made of letters, digits and _ (the line is not shown: it may hold a secret)");
            }
            var value = match.Groups["value"].Value.Trim();
            if (value.Length > 0 && value[0] is '"' or '\'')
            {
                if (value.Length < 2 || value[^1] != value[0])
                {
                    throw new UsageException($"--env-file {source}, line {i + 1}: the value opens a {(value[0] == '"' ? "double" : "single")} quote it does not close");
                }
                value = value[1..^1];
            }
            result[match.Groups["key"].Value] = value;
        }
        return result;
    }

    [GeneratedRegex(@"^(export\s+)?(?<key>[A-Za-z_][A-Za-z0-9_.\-]*)\s*=(?<value>.*)$")]
    private static partial Regex LinePattern();
}
