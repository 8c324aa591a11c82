using System.CommandLine;
using System.Globalization;

namespace Affinetes.Afs.Cli;

/// <summary>Options that take a number of seconds, parsed with a message that says what is wanted.</summary>
internal static class Seconds
{
    /// <summary>An optional positive number of seconds (<c>30</c>, <c>2.5</c>); anything else is a usage error naming the option.</summary>
    public static Option<double?> Option(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 0 ? "" : result.Tokens[0].Value;
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds))
            {
                if (seconds > 0)
                {
                    return seconds;
                }
                result.AddError($"{name} {text} must be more than zero seconds");
                return null;
            }
            result.AddError($"{name} '{text}' is not a number of seconds; give e.g. 30 or 2.5");
            return null;
        },
    };

    /// <summary>Like <see cref="Option(string, string)"/>, with a default.</summary>
    public static Option<double?> Option(string name, string description, double defaultSeconds)
    {
        var option = Option(name, description);
        option.DefaultValueFactory = _ => defaultSeconds;
        return option;
    }

    /// <summary>
    /// A deadline: a positive number of seconds, or <c>none</c> (<see cref="Timeout.InfiniteTimeSpan"/>: no deadline,
    /// only when asked for); not given: null, and the command applies its default.
    /// </summary>
    public static Option<TimeSpan?> Deadline(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "S|none",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 0 ? "" : result.Tokens[0].Value;
            if (text.Equals("none", StringComparison.OrdinalIgnoreCase))
            {
                return Timeout.InfiniteTimeSpan;
            }
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds) && seconds < 1e7)
            {
                if (seconds > 0)
                {
                    return TimeSpan.FromSeconds(seconds);
                }
                result.AddError($"{name} {text} must be more than zero seconds (or none for no deadline)");
                return null;
            }
            result.AddError($"{name} '{text}' is not a number of seconds; give e.g. 30 or 2.5, or none for no deadline");
            return null;
        },
    };

    /// <summary>The option's value as it was typed (<c>1e-9</c>, <c>2.5</c>), for messages that name what the user gave; null when not given.</summary>
    public static string? Typed(CommandContext context, Option option) =>
        context.ParseResult.GetResult(option) is { Implicit: false, Tokens: [var token, ..] } ? token.Value : null;

    /// <summary>Seconds for messages: <c>2</c>, <c>0.01</c>, and tiny values as given (<c>1E-09</c>), never rounded to 0.</summary>
    public static string Format(double seconds) => seconds >= 0.001
        ? seconds.ToString("0.###", CultureInfo.InvariantCulture)
        : seconds.ToString("G3", CultureInfo.InvariantCulture);

    /// <summary>The option's value as a span of time, when given.</summary>
    public static TimeSpan? Value(CommandContext context, Option<double?> option) =>
        context.Get(option) is { } seconds ? TimeSpan.FromSeconds(seconds) : null;
}
