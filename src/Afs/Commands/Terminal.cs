using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Affinetes.Afs.Commands;

/// <summary>
/// How afs writes: Spectre.Console tables for people (no colours, no borders and no wrapping when the output is not
/// a terminal, so that it greps and diffs), JSON for scripts.
/// </summary>
internal static class Terminal
{
    /// <summary>Compact JSON that keeps non-ASCII text and quotes readable.</summary>
    public static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static readonly JsonSerializerOptions PrettyJson = new(Json) { WriteIndented = true };

    /// <summary>True when <paramref name="writer"/> is the process's own stdout and that is a terminal.</summary>
    public static bool IsInteractive(TextWriter writer) => ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;

    public static IAnsiConsole Create(TextWriter writer)
    {
        var interactive = IsInteractive(writer);
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

    /// <summary>A table with these column headers, framed on a terminal, plain columns otherwise.</summary>
    public static Table Table(TextWriter writer, params string[] columns)
    {
        var interactive = IsInteractive(writer);
        var table = new Table { Border = interactive ? TableBorder.Rounded : TableBorder.None };
        foreach (var column in columns)
        {
            table.AddColumn(new TableColumn(new Text(column)) { Padding = interactive ? new Padding(1, 0, 1, 0) : new Padding(0, 0, 2, 0), NoWrap = !interactive });
        }
        return table;
    }

    /// <summary>Adds a row of literal text (no markup: signatures hold brackets).</summary>
    public static void AddTextRow(this Table table, params string?[] cells) =>
        table.AddRow(cells.Select(c => (IRenderable)new Text(c ?? "")).ToArray());

    /// <summary>Writes <paramref name="table"/> to <paramref name="writer"/>, without the trailing spaces of plain columns.</summary>
    public static void Write(TextWriter writer, Table table)
    {
        if (IsInteractive(writer))
        {
            Create(writer).Write(table);
            return;
        }
        var buffer = new StringWriter(CultureInfo.InvariantCulture);
        Create(buffer).Write(table);
        foreach (var line in buffer.ToString().Split('\n'))
        {
            if (line.TrimEnd() is { Length: > 0 } text)
            {
                writer.WriteLine(text);
            }
        }
    }

    public static void WriteJson<T>(TextWriter writer, T value, bool pretty = false) =>
        writer.WriteLine(JsonSerializer.Serialize(value, pretty ? PrettyJson : Json));

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
}
