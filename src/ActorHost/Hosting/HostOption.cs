using System.Globalization;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// One setting of the host, described once: its name (<c>AFFINETES_NAME</c> and <c>--name</c>), what the usage text
/// says of it, how its text binds onto <see cref="ActorHostOptions"/>, and how to read it back. The switch table, the
/// usage text and the binding are all made from <see cref="ActorHostOptions.Table"/>.
/// </summary>
/// <param name="Name">The setting's name, e.g. <c>ENV_FILE</c>.</param>
/// <param name="Value">What the usage shows after the switch, e.g. <c>PATH</c>; null for a flag (<c>--debug</c> alone means true).</param>
/// <param name="Help">The usage text.</param>
/// <param name="Bind">Sets the setting from its text (already trimmed, never empty); throws <see cref="OptionsException"/> saying how to fix a bad one.</param>
/// <param name="Read">The setting's value in some options, as the usage shows a default and tests compare bindings.</param>
/// <param name="DefaultText">What the usage says when the setting is not given, where the default value alone does not say it.</param>
internal sealed record HostOption(
    string Name,
    string? Value,
    string Help,
    Func<ActorHostOptions, OptionText, ActorHostOptions> Bind,
    Func<ActorHostOptions, object?> Read,
    string? DefaultText = null)
{
    /// <summary>The environment variable, e.g. <c>AFFINETES_ENV_FILE</c>.</summary>
    public string Variable => "AFFINETES_" + Name;

    /// <summary>The command-line switch, e.g. <c>--env-file</c>.</summary>
    public string Switch => "--" + Name.ToLowerInvariant().Replace('_', '-');

    public bool IsFlag => Value is null;

    /// <summary>The value <see cref="Read"/> gives, as text (lists joined with commas, durations in seconds); null when unset or false.</summary>
    public string? Show(ActorHostOptions options) => Read(options) switch
    {
        null or false => null,
        true => "true",
        TimeSpan t => t.TotalSeconds.ToString(CultureInfo.InvariantCulture),
        IEnumerable<string> list => list.Any() ? string.Join(",", list) : null,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var other => other.ToString(),
    };
}

/// <summary>A setting's text as given, with the readings a setting may need; each error names the variable and the switch.</summary>
internal readonly record struct OptionText(string Name, string Text)
{
    private string Names => $"AFFINETES_{Name} / --{Name.ToLowerInvariant().Replace('_', '-')}";

    public long Whole(long min, long max) =>
        long.TryParse(Text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new OptionsException($"{Names} is '{Text}'; use a whole number from {min} to {max}");

    public TimeSpan Seconds() =>
        double.TryParse(Text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) && value > 0 && value <= 86_400
            ? TimeSpan.FromSeconds(value)
            : throw new OptionsException($"{Names} is '{Text}'; use seconds, e.g. '30' or '2.5'");

    public bool Flag() => Text.ToLowerInvariant() switch
    {
        "0" or "false" or "no" or "off" => false,
        "1" or "true" or "yes" or "on" => true,
        var other => throw new OptionsException($"{Names} is '{other}'; use true or false"),
    };

    /// <summary>A comma-separated list, blanks dropped.</summary>
    public string[] List() => Text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>A JSON array of strings (exec form), or a command line for <c>/bin/sh -c</c> (shell form), as in a Dockerfile.</summary>
    public string[] Command()
    {
        if (!Text.StartsWith('['))
        {
            return ["/bin/sh", "-c", Text];
        }
        try
        {
            var parts = System.Text.Json.JsonSerializer.Deserialize(Text, OptionsJson.Default.StringArray);
            if (parts is { Length: > 0 } && parts.All(p => !string.IsNullOrEmpty(p)))
            {
                return parts;
            }
        }
        catch (System.Text.Json.JsonException)
        {
        }
        throw new OptionsException($"{Names} is '{Text}'; give a JSON array of strings, e.g. [\"python3\", \"server.py\"], or a shell command line");
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class OptionsJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>A setting has a value the host cannot use; the message says which and how to fix it.</summary>
internal sealed class OptionsException(string message) : Exception(message);
