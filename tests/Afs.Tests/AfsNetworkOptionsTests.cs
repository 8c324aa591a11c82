using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary><c>--network</c>, <c>--llm-upstream</c> and <c>--llm-key-env</c>: bad values and combinations say what to do, before anything starts.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class AfsNetworkOptionsTests
{
    private static (int Exit, string Output, string Error) Run(params string[] args) => AfsCliTests.Run(args);

    [Theory]
    [InlineData("eval", "--network", "none", "afs eval: --network: network 'none' is not one of: isolated, open, allow:HOST[,HOST...]")]
    [InlineData("eval", "--network", "allow:", "afs eval: --network: network 'allow:' names no host")]
    [InlineData("eval", "--network", "allow:api.github.com:99999", "has no valid port")]
    [InlineData("eval", "--llm-upstream", "llm.chutes.ai", "afs eval: --llm-upstream 'llm.chutes.ai' is not an http(s) URL")]
    [InlineData("eval", "--llm-key-env", "AFFINETES_TEST_NOT_SET_ANYWHERE", "afs eval: --llm-key-env AFFINETES_TEST_NOT_SET_ANYWHERE: $AFFINETES_TEST_NOT_SET_ANYWHERE is not set")]
    [InlineData("eval", "--host", "ssh://me@gpu-box", "afs eval: --network isolated needs the Docker engine of this machine")]
    [InlineData("run", "--network", "allow:api.github.com", "afs run: --network allow:api.github.com goes through the LLM gateway's proxy; give --llm-upstream URL too")]
    [InlineData("run", "--llm-upstream", "http://127.0.0.1:9/v1", "afs run: the LLM gateway runs as long as afs does, so --llm-upstream needs --rm")]
    [InlineData("run", "--network", "isolated", "--host", "tcp://gpu-box.example:2375", "and tcp://gpu-box.example:2375 is another; run afs on that machine, or give --network open")]
    public void BadNetworkOptions_ExitOneSayingWhatToDo(string command, params string[] rest)
    {
        var expected = rest[^1];
        string[] args = command == "eval" ? ["eval", "some-image:1", "--tasks", "1", .. rest[..^1]] : ["run", "some-image:1", .. rest[..^1]];
        var (exit, output, error) = Run(args);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Help_SaysTheDefaultNetworkOfEachCommand()
    {
        Assert.Contains("Default: isolated", Run("eval", "--help").Output, StringComparison.Ordinal);
        Assert.Contains("Default: isolated", Run("score", "--help").Output, StringComparison.Ordinal);
        var run = Run("run", "--help").Output;
        Assert.Contains("Default: open", run, StringComparison.Ordinal);
        Assert.Contains("--llm-upstream", run, StringComparison.Ordinal);
        Assert.Contains("--llm-key-env", run, StringComparison.Ordinal);
    }
}
