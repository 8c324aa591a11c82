using System.Text;

namespace Affinetes.Afs.Cli;

/// <summary>
/// Reads a <c>.env</c> file as python-dotenv and Docker Compose read one: <c>KEY=VALUE</c> lines, optionally
/// prefixed with <c>export</c>; blank lines and <c>#</c> comment lines skipped.
/// <list type="bullet">
/// <item>unquoted values end at the line's end; a <c>#</c> after whitespace starts a comment; surrounding spaces go;</item>
/// <item>single quotes keep their text as written (only <c>\'</c> and <c>\\</c> are escapes), across lines;</item>
/// <item>double quotes take the escapes <c>\"</c> <c>\\</c> <c>\n</c> <c>\r</c> <c>\t</c> <c>\$</c>, across lines;</item>
/// <item>after a closing quote only whitespace and a <c># comment</c> may follow (<c>O="a" "b"</c> is an error);</item>
/// <item><c>${VAR}</c> is not expanded (as Docker's <c>--env-file</c>): the value reaches the actor as written.</item>
/// </list>
/// Errors name the line, never its content (it may hold a secret).
/// </summary>
internal static class EnvFile
{
    public static Dictionary<string, string> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new UsageException($"--env-file {path}: no such file");
        }
        return Parse(File.ReadAllText(path), path);
    }

    public static Dictionary<string, string> Parse(IReadOnlyList<string> lines, string source) => Parse(string.Join('\n', lines), source);

    public static Dictionary<string, string> Parse(string text, string source)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Reader(text.Replace("\r\n", "\n", StringComparison.Ordinal), source);
        while (!reader.AtEnd)
        {
            reader.SkipBlank();
            if (reader.AtEnd)
            {
                break;
            }
            if (reader.Peek == '#')
            {
                reader.SkipLine();
                continue;
            }
            var (key, value) = reader.Assignment();
            result[key] = value;
        }
        return result;
    }

    private sealed class Reader(string text, string source)
    {
        private int _at;
        private int _line = 1;

        public bool AtEnd => _at >= text.Length;

        public char Peek => text[_at];

        /// <summary>Skips spaces, tabs and empty lines.</summary>
        public void SkipBlank()
        {
            while (!AtEnd && char.IsWhiteSpace(Peek))
            {
                Next();
            }
        }

        public void SkipLine()
        {
            while (!AtEnd && Peek != '\n')
            {
                _at++;
            }
        }

        public (string Key, string Value) Assignment()
        {
            var line = _line;
            var key = Word();
            if (key == "export" && !AtEnd && Peek is ' ' or '\t')
            {
                SkipSpaces();
                key = Word();
            }
            if (key.Length == 0 || !(char.IsAsciiLetter(key[0]) || key[0] == '_'))
            {
                throw Error(line, "expected KEY=VALUE with KEY made of letters, digits and _ (the line is not shown: it may hold a secret)");
            }
            SkipSpaces();
            if (AtEnd || Peek != '=')
            {
                throw Error(line, "expected KEY=VALUE with KEY made of letters, digits and _ (the line is not shown: it may hold a secret)");
            }
            _at++;
            SkipSpaces();
            var value = AtEnd || Peek == '\n' ? "" : Peek switch
            {
                '\'' => Quoted('\'', line),
                '"' => Quoted('"', line),
                _ => Unquoted(),
            };
            if (!AtEnd)
            {
                Next(); // the line's end
            }
            return (key, value);
        }

        private string Word()
        {
            var start = _at;
            while (!AtEnd && (char.IsAsciiLetterOrDigit(Peek) || Peek is '_' or '.' or '-'))
            {
                _at++;
            }
            return text[start.._at];
        }

        private void SkipSpaces()
        {
            while (!AtEnd && Peek is ' ' or '\t')
            {
                _at++;
            }
        }

        private string Unquoted()
        {
            var start = _at;
            SkipLine();
            var raw = text[start.._at];
            for (var i = 1; i < raw.Length; i++)
            {
                if (raw[i] == '#' && raw[i - 1] is ' ' or '\t')
                {
                    raw = raw[..i];
                    break;
                }
            }
            return raw.Trim();
        }

        private string Quoted(char quote, int line)
        {
            _at++;
            var value = new StringBuilder();
            while (true)
            {
                if (AtEnd)
                {
                    throw Error(line, $"the value opens a {(quote == '"' ? "double" : "single")} quote it does not close");
                }
                var c = Next();
                if (c == quote)
                {
                    break;
                }
                if (c == '\\' && !AtEnd)
                {
                    var escaped = Peek;
                    var replacement = quote == '\'' ? escaped switch
                    {
                        '\'' => "'",
                        '\\' => "\\",
                        _ => null,
                    } : escaped switch
                    {
                        '"' => "\"",
                        '\\' => "\\",
                        'n' => "\n",
                        'r' => "\r",
                        't' => "\t",
                        '$' => "$",
                        '\'' => "'",
                        _ => null,
                    };
                    if (replacement is not null)
                    {
                        Next();
                        value.Append(replacement);
                        continue;
                    }
                }
                value.Append(c);
            }
            SkipSpaces();
            if (!AtEnd && Peek == '#')
            {
                SkipLine();
            }
            if (!AtEnd && Peek != '\n')
            {
                throw Error(line, "text follows the value's closing quote; quote the whole value, or start a comment with ' #'");
            }
            return value.ToString();
        }

        private char Next()
        {
            var c = text[_at++];
            if (c == '\n')
            {
                _line++;
            }
            return c;
        }

        private UsageException Error(int line, string message) => new($"--env-file {source}, line {line}: {message}");
    }
}
