using System.Globalization;
using System.Text.RegularExpressions;
using Affinetes.ActorHost.Runtimes.Python;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

/// <summary>The tags between the host and <c>affinetes_bridge.py</c> are one table: same names, same values on both sides.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed partial class BridgeTagsTests
{
    [Fact]
    public void EveryTag_HasTheSameNameAndValue_InTheBridgeAndInTheHost()
    {
        using var stream = typeof(BridgeTags).Assembly.GetManifestResourceStream("affinetes_bridge.py")!;
        var source = new StreamReader(stream).ReadToEnd();
        var python = Assignment().Matches(source).ToDictionary(m => m.Groups["name"].Value, m => Value(m.Groups["value"].Value));

        Assert.Equal(BridgeTags.ByPythonName.Keys.Order(), python.Keys.Order());
        foreach (var (name, value) in BridgeTags.ByPythonName)
        {
            Assert.True(python[name] == value, $"{name} is {python[name]} in affinetes_bridge.py and {value} in BridgeTags");
        }
    }

    /// <summary>A one-character string such as <c>"\x01"</c>, or a whole number.</summary>
    private static int Value(string literal) => literal.StartsWith("\"\\x", StringComparison.Ordinal)
        ? int.Parse(literal[3..5], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
        : int.Parse(literal, CultureInfo.InvariantCulture);

    [GeneratedRegex("""^(?<name>[A-Z][A-Z_]*) = (?<value>"\\x[0-9a-f]{2}"|[0-9]+)(?=\s|$)""", RegexOptions.Multiline)]
    private static partial Regex Assignment();
}
