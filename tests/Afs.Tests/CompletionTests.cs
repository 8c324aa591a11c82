using System.Diagnostics;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary>Shell completion made from the command tree, run in a real bash; and a mistyped command names the nearest.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class CompletionTests
{
    private static string Complete(string script, params string[] words)
    {
        var file = Path.Combine(Path.GetTempPath(), $"afs-completion-{Guid.NewGuid():N}.bash");
        File.WriteAllText(file, script);
        try
        {
            var quoted = string.Join(' ', words.Select(w => "'" + w + "'"));
            var start = new ProcessStartInfo("bash")
            {
                ArgumentList = { "-c", $"source '{file}'; COMP_WORDS=({quoted}); COMP_CWORD={words.Length - 1}; _afs; printf '%s\\n' \"${{COMPREPLY[@]}}\"" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var bash = Process.Start(start)!;
            var output = bash.StandardOutput.ReadToEnd();
            Assert.True(bash.WaitForExit(10_000), "bash did not finish");
            Assert.True(bash.ExitCode == 0, bash.StandardError.ReadToEnd());
            return output;
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Bash_CompletesCommands_TheirOptions_AndNestedCommands()
    {
        var (exit, script, error) = AfsCliTests.Run("completion", "bash");
        Assert.True(exit == 0, error);
        Assert.Equal("eval\n", Complete(script, "afs", "ev"));
        Assert.Equal("--tasks\n", Complete(script, "afs", "eval", "--ta"));
        Assert.Contains("--subtensor\n", Complete(script, "afs", "score", "--sub"), StringComparison.Ordinal);
        Assert.Equal("ls\n", Complete(script, "afs", "basilica", "l"));
        Assert.Contains("--all-mine\n", Complete(script, "afs", "basilica", "rm", "--a"), StringComparison.Ordinal);
        Assert.Contains("--json\n", Complete(script, "afs", "ps", "--j"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("zsh", "#compdef afs")]
    [InlineData("fish", "complete -c afs -f -n '__fish_use_subcommand' -a 'eval'")]
    public void OtherShells_GetTheirOwnScript(string shell, string expected)
    {
        var (exit, script, _) = AfsCliTests.Run("completion", shell);
        Assert.Equal(0, exit);
        Assert.Contains(expected, script, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "evl", "--tasks", "1" }, "afs: there is no command 'evl'; did you mean 'eval'? (afs --help lists them)\n")]
    [InlineData(new[] { "scroe" }, "afs: there is no command 'scroe'; did you mean 'score'? (afs --help lists them)\n")]
    [InlineData(new[] { "basilica", "lss" }, "afs basilica: there is no command 'lss'; did you mean 'ls'? (afs basilica --help lists them)\n")]
    public void AMistypedCommand_NamesTheNearest(string[] args, string expected)
    {
        var (exit, output, error) = AfsCliTests.Run(args);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal(expected, error);
    }
}
