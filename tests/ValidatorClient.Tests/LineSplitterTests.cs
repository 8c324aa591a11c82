using System.Text;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Backends.Docker;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>How container output becomes lines: split on newlines across reads, UTF-8 across reads, and bounded in length.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class LineSplitterTests
{
    [Fact]
    public void Lines_SplitAcrossReads_KeepUtf8_AndDropCarriageReturns()
    {
        var splitter = new LineSplitter();
        var lines = new List<string>();
        var bytes = Encoding.UTF8.GetBytes("first ✓ line\r\nsecond\nthird without end");
        foreach (var piece in bytes.Chunk(3))
        {
            splitter.Add(piece, lines);
        }
        Assert.Equal(["first ✓ line", "second"], lines);
        Assert.Equal("third without end", splitter.Finish());
        Assert.Null(splitter.Finish());
    }

    [Fact]
    public void ALineWithoutEnd_IsCutAtTheLimit_AndSaysHowMuchWasCut()
    {
        var splitter = new LineSplitter();
        var lines = new List<string>();
        var chunk = Encoding.ASCII.GetBytes(new string('x', 64 * 1024));
        for (var i = 0; i < 160; i++) // 10 MiB without a newline
        {
            splitter.Add(chunk, lines);
        }
        splitter.Add("\nnext\n"u8, lines);
        Assert.Equal(2, lines.Count);
        var cut = 160L * 64 * 1024 - LineSplitter.MaxLineChars;
        Assert.Equal(new string('x', LineSplitter.MaxLineChars) + $" ... ({cut} more characters cut)", lines[0]);
        Assert.Equal("next", lines[1]);
    }
}
