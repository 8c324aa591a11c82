using System.CommandLine;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class AfsCliTests
{
    private static (int Exit, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = AfsCli.Build().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void Version_PrintsVersion()
    {
        var (exit, output, _) = Run("version");
        Assert.Equal(0, exit);
        Assert.Equal($"afs {AfsCli.Version}", output.Trim());
        Assert.Matches(@"^\d+\.\d+\.\d+", AfsCli.Version);
    }

    [Fact]
    public void Help_ListsCommands()
    {
        var (exit, output, _) = Run("--help");
        Assert.Equal(0, exit);
        Assert.Contains("version", output);
    }

    [Fact]
    public void UnknownCommand_FailsWithMessage()
    {
        var (exit, _, error) = Run("frobnicate");
        Assert.NotEqual(0, exit);
        Assert.Contains("frobnicate", error);
    }
}
