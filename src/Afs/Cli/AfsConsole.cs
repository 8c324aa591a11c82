using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Affinetes.Afs.Cli;

/// <summary>
/// How a command writes: its result on stdout (Spectre.Console tables for people, with no colours, borders or
/// wrapping when stdout is not a terminal, so that it greps and diffs; JSON for scripts), and notes, progress and
/// errors on stderr as <c>afs COMMAND: ...</c>. Safe to use from several threads.
/// </summary>
internal sealed class AfsConsole(string command, TextWriter output, TextWriter error, bool json)
{
    /// <summary>Compact JSON that keeps non-ASCII text and quotes readable.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, MaxDepth = Protocol.ResultLimits.MaxDepth + 16 };

    public static readonly JsonSerializerOptions PrettyJsonOptions = new(JsonOptions) { WriteIndented = true };

    private readonly Lock _gate = new();

    /// <summary>The command's stdout, for output that is neither a line nor a table (a JSON document as the actor returned it).</summary>
    public TextWriter Out => output;

    /// <summary><c>--json</c> was given: results are written as JSON.</summary>
    public bool Json => json;

    /// <summary>True when stdout is the process's own and a terminal.</summary>
    public bool IsInteractive => IsTerminal(output);

    /// <summary>A line of the result on stdout.</summary>
    public void Line(string text = "")
    {
        lock (_gate)
        {
            output.WriteLine(text);
        }
    }

    /// <summary>A JSON document (or one JSON line) on stdout.</summary>
    public void WriteJson<T>(T value, bool pretty = false) => Line(JsonSerializer.Serialize(value, pretty ? PrettyJsonOptions : JsonOptions));

    /// <summary>A note for people on stderr (<c>afs COMMAND: text</c>): what is happening, what to do next.</summary>
    public void Note(string text)
    {
        lock (_gate)
        {
            error.WriteLine($"afs {command}: {text}");
        }
    }

    /// <summary>A line of progress on stderr, as it comes (build output, phases of a start).</summary>
    public void Progress(string text)
    {
        lock (_gate)
        {
            error.WriteLine(text);
        }
    }

    /// <summary>An error on stderr, on one line (<c>afs COMMAND: message</c>).</summary>
    public void Error(string message) => Note(ErrorReport.OneLine(message));

    /// <summary>A table with these column headers, framed on a terminal, plain columns otherwise.</summary>
    public Table Table(params string[] columns)
    {
        var interactive = IsInteractive;
        var table = new Table { Border = interactive ? TableBorder.Rounded : TableBorder.None };
        foreach (var column in columns)
        {
            table.AddColumn(new TableColumn(new Text(column)) { Padding = interactive ? new Padding(1, 0, 1, 0) : new Padding(0, 0, 2, 0), NoWrap = !interactive });
        }
        return table;
    }

    /// <summary>Writes <paramref name="table"/> on stdout, without the trailing spaces of plain columns.</summary>
    public void Write(Table table)
    {
        lock (_gate)
        {
            if (IsInteractive)
            {
                Create(output, interactive: true).Write(table);
                return;
            }
            var buffer = new StringWriter(CultureInfo.InvariantCulture);
            Create(buffer, interactive: false).Write(table);
            foreach (var line in buffer.ToString().Split('\n'))
            {
                if (line.TrimEnd() is { Length: > 0 } text)
                {
                    output.WriteLine(text);
                }
            }
        }
    }

    /// <summary>A Spectre console over stdout (live displays such as progress); plain when stdout is not a terminal.</summary>
    public IAnsiConsole Ansi() => Create(output, IsInteractive);

    private static bool IsTerminal(TextWriter writer) => ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;

    private static IAnsiConsole Create(TextWriter writer, bool interactive)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        if (!interactive)
        {
            console.Profile.Width = 4096; // a pipe has no width: never wrap a row
        }
        return console;
    }

    /// <summary><c>12 seconds ago</c>, <c>3 minutes ago</c> ...</summary>
    public static string Ago(DateTimeOffset at)
    {
        var age = DateTimeOffset.UtcNow - at;
        static string Plural(double n, string unit) => $"{(long)n} {unit}{((long)n == 1 ? "" : "s")} ago";
        return age.TotalSeconds < 1 ? "just now"
            : age.TotalMinutes < 1 ? Plural(age.TotalSeconds, "second")
            : age.TotalHours < 1 ? Plural(age.TotalMinutes, "minute")
            : age.TotalDays < 1 ? Plural(age.TotalHours, "hour")
            : Plural(age.TotalDays, "day");
    }

    /// <summary><c>1 replica</c>, <c>2 replicas</c>.</summary>
    public static string Plural(int count, string noun) => $"{count.ToString(CultureInfo.InvariantCulture)} {noun}{(count == 1 ? "" : "s")}";
}

/// <summary>Rows of literal text (no markup: signatures hold brackets).</summary>
internal static class TableRows
{
    public static void AddTextRow(this Table table, params string?[] cells) =>
        table.AddRow([.. cells.Select(c => (IRenderable)new Text(c ?? ""))]);
}
