using Affinetes.Afs.Cli;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary><c>--env-file</c> read as python-dotenv and Docker Compose read <c>.env</c> files.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class EnvFileTests
{
    private static Dictionary<string, string> Parse(string text) => EnvFile.Parse(text, "test.env");

    [Theory]
    [InlineData("A=plain", "plain")]
    [InlineData("A = spaced  ", "spaced")]
    [InlineData("export A=exported", "exported")]
    [InlineData("A=value # comment", "value")]
    [InlineData("A=value#not-a-comment", "value#not-a-comment")]
    [InlineData("A=", "")]
    [InlineData("A=\"with \\\"escaped\\\" quotes\"", "with \"escaped\" quotes")]
    [InlineData("A=\"tab\\tand\\nnewline and \\\\ backslash\"", "tab\tand\nnewline and \\ backslash")]
    [InlineData("A='single \\n stays, \\' is a quote'", "single \\n stays, ' is a quote")]
    [InlineData("A=\"# not a comment\" # a comment", "# not a comment")]
    [InlineData("A='x'   ", "x")]
    [InlineData("A=${HOME}/x", "${HOME}/x")]
    public void Values_FollowTheDotenvConventions(string line, string expected) =>
        Assert.Equal(expected, Parse(line)["A"]);

    [Fact]
    public void QuotedValues_SpanLines_AndLineNumbersCountThem()
    {
        var values = Parse("# keys\n\nKEY=\"-----BEGIN\nline two\n-----END\"\nNEXT=1\r\nLAST='a\nb'\n");
        Assert.Equal("-----BEGIN\nline two\n-----END", values["KEY"]);
        Assert.Equal("1", values["NEXT"]);
        Assert.Equal("a\nb", values["LAST"]);

        var error = Assert.Throws<UsageException>(() => Parse("A=\"x\ny\"\nsk-secret-after-a-multiline-value"));
        Assert.Equal("--env-file test.env, line 3: expected KEY=VALUE with KEY made of letters, digits and _ (the line is not shown: it may hold a secret)", error.Message);
    }

    [Theory]
    [InlineData("O=\"a\" \"b\"", "line 1: text follows the value's closing quote")]
    [InlineData("X=1\nO='a'b", "line 2: text follows the value's closing quote")]
    [InlineData("O=\"never closed", "line 1: the value opens a double quote it does not close")]
    [InlineData("O='never closed\nmore", "line 1: the value opens a single quote it does not close")]
    [InlineData("sk-secret", "line 1: expected KEY=VALUE")]
    [InlineData("=sk-secret", "line 1: expected KEY=VALUE")]
    [InlineData("1KEY=sk-secret", "line 1: expected KEY=VALUE")]
    public void BadLines_NameTheLine_NeverTheValue(string text, string expected)
    {
        var error = Assert.Throws<UsageException>(() => Parse(text));
        Assert.StartsWith("--env-file test.env, " + expected, error.Message);
        Assert.DoesNotContain("sk-secret", error.Message);
        Assert.DoesNotContain("never closed", error.Message);
    }

    [Fact]
    public void LaterLinesWin_AndCommentsAndBlankLinesAreSkipped()
    {
        var values = Parse("  # comment\n\tA=1\n\n   \nA=2\nexport=3\n");
        Assert.Equal("2", values["A"]);
        Assert.Equal("3", values["export"]);
        Assert.Equal(2, values.Count);
    }
}
