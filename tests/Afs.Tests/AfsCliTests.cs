using System.CommandLine;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class AfsCliTests
{
    /// <summary>afs in this process, its output and error captured.</summary>
    internal static (int Exit, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = AfsCli.RunAsync(args, new InvocationConfiguration { Output = output, Error = error }).GetAwaiter().GetResult();
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

    [Theory]
    [InlineData("ps")]
    [InlineData("cleanup")]
    [InlineData("stop", "some-env")]
    [InlineData("logs", "some-env")]
    [InlineData("call", "some-env", "generate")]
    public void UnreachableEngine_ExitsFiveNamingIt(params string[] command)
    {
        var socket = $"unix:///tmp/affinetes-no-engine-{Guid.NewGuid():N}.sock";
        var (exit, output, error) = Run([.. command, "--host", socket]);
        Assert.Equal(5, exit);
        Assert.Equal("", output);
        Assert.StartsWith($"afs {command[0]}: cannot reach the Docker engine at {socket}: ", error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Theory]
    [InlineData("afs run: pids limit is 5; use 32 to 4194304", "--pids-limit", "5")]
    [InlineData("afs run: tmp size '1k' is below 1Mi", "--tmp-size", "1k")]
    [InlineData("afs run: writable path 'var/cache' must be an absolute directory", "--writable-path", "var/cache")]
    [InlineData("afs run: capability 'NET RAW' is not a capability name", "--cap-add", "net raw")]
    [InlineData("afs run: container creations per second is 0; use a rate of at least 0.01", "--max-creations-per-second", "0")]
    [InlineData("afs run: container limits must be at least 1", "--max-containers", "0")]
    [InlineData("afs run: --writable-rootfs confines Docker containers; a basilica deployment is isolated by Basilica", "--writable-rootfs", "--mode", "basilica")]
    public void Run_BadHardeningOrCaps_ExitsOneBeforeAnyEngineIsAsked(string expected, params string[] flags)
    {
        // The engine named cannot be reached: a message about it would mean the flags were not checked first.
        var (exit, _, error) = Run(["run", "some-image:1", "--host", $"unix:///tmp/affinetes-no-engine-{Guid.NewGuid():N}.sock", .. flags]);
        Assert.Equal(1, exit);
        Assert.StartsWith(expected, error);
    }

    [Theory]
    [InlineData("afs eval: pids limit is 5; use 32 to 4194304", "--pids-limit", "5")]
    [InlineData("afs eval: container creations per second is 0; use a rate of at least 0.01", "--max-creations-per-second", "0")]
    public void Eval_BadHardeningOrCaps_ExitsOneBeforeBuildingOrAskingAnEngine(string expected, params string[] flags)
    {
        var directory = Directory.CreateTempSubdirectory("affinetes-eval-flags-");
        try
        {
            File.WriteAllText(Path.Combine(directory.FullName, "env.py"), "class Actor:\n    def evaluate(self, task_id: int) -> dict:\n        return {}\n");
            var (exit, _, error) = Run(["eval", directory.FullName, "--tasks", "1", "--host", $"unix:///tmp/affinetes-no-engine-{Guid.NewGuid():N}.sock", .. flags]);
            Assert.Equal(1, exit);
            Assert.StartsWith(expected, error);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void UnknownEngineScheme_ExitsOneSayingWhatIsAccepted()
    {
        var (exit, _, error) = Run("ps", "--host", "docker.example:2375");
        Assert.Equal(1, exit);
        Assert.Equal("afs ps: docker host 'docker.example:2375' is not one of: local, unix:///path, tcp://host:port, ssh://user@host[:port]\n", error);
    }

    [Fact]
    public void UnknownCommand_FailsWithMessage()
    {
        var (exit, _, error) = Run("frobnicate");
        Assert.NotEqual(0, exit);
        Assert.Contains("frobnicate", error);
    }

    [Fact]
    public void Help_ListsEnvironmentCommands()
    {
        var (exit, output, _) = Run("--help");
        Assert.Equal(0, exit);
        foreach (var command in new[] { "run <image>", "call <name> <method>", "ps", "logs <name>", "stop <name>", "cleanup" })
        {
            Assert.Contains(command, output);
        }
    }

    [Fact]
    public void Call_WithoutMethod_SaysHowToCall()
    {
        var (exit, output, error) = Run("call", "my-env");
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal("afs call: name the method: afs call my-env METHOD (afs methods my-env lists them), or afs call --url URL METHOD\n", error);
    }

    [Fact]
    public void Call_WithUrlAndTwoPositionals_SaysTheUrlTakesOnlyTheMethod()
    {
        var (exit, _, error) = Run("call", "--url", "http://127.0.0.1:1", "my-env", "generate");
        Assert.Equal(1, exit);
        Assert.StartsWith("afs call: with --url give only the method", error);
    }

    [Theory]
    [InlineData("[1, 2]", "afs call: --json-args must be a JSON object of keyword arguments, e.g. '{\"task_id\": 1}'; it is an array")]
    [InlineData("{task_id: 1}", "afs call: --json-args is not valid JSON: ")]
    public void Call_JsonArgsNotAnObject_IsAUsageError(string jsonArgs, string message)
    {
        var (exit, _, error) = Run("call", "my-env", "generate", "--json-args", jsonArgs);
        Assert.Equal(1, exit);
        Assert.StartsWith(message, error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Call_ZeroTimeout_IsAUsageError()
    {
        var (exit, _, error) = Run("call", "my-env", "generate", "--timeout", "0");
        Assert.Equal(1, exit);
        Assert.Equal("afs call: --timeout 0 must be more than zero seconds (or none for no deadline)\n(afs call --help says how to use it)\n", error);
    }

    [Theory]
    [InlineData("abc", "afs call: --timeout 'abc' is not a number of seconds; give e.g. 30 or 2.5, or none for no deadline")]
    [InlineData("-1", "afs call: --timeout -1 must be more than zero seconds (or none for no deadline)")]
    public void Call_UnparsableTimeout_SaysWhatIsWanted(string timeout, string message)
    {
        var (exit, output, error) = Run("call", "my-env", "generate", "--timeout", timeout);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal($"{message}\n(afs call --help says how to use it)\n", error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void Call_EmptyMethodName_SaysToNameOne(string method)
    {
        var (exit, _, error) = Run("call", "my-env", method);
        Assert.Equal(1, exit);
        Assert.Equal("afs call: the method name is empty; name the method to call (afs methods my-env lists them)\n", error);
    }

    [Theory]
    [InlineData("version")]
    [InlineData("ps")]
    [InlineData("methods")]
    public void EveryCommand_TakesJsonAndVerbose(string command)
    {
        var result = AfsCli.Build().Parse([command, "--json", "--verbose"]);
        Assert.DoesNotContain(result.Errors, e => e.Message.Contains("--json", StringComparison.Ordinal) || e.Message.Contains("--verbose", StringComparison.Ordinal));
    }

    [Fact]
    public void Version_Json_IsADocument()
    {
        var (exit, output, _) = Run("version", "--json");
        Assert.Equal(0, exit);
        Assert.Equal(AfsCli.Version, System.Text.Json.JsonDocument.Parse(output).RootElement.GetProperty("version").GetString());
    }

    [Fact]
    public void Init_Json_SaysWhatItWrote()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"afs-init-{Guid.NewGuid():N}");
        try
        {
            var (exit, output, _) = Run("init", dir, "--json");
            Assert.Equal(0, exit);
            var written = System.Text.Json.JsonDocument.Parse(output).RootElement;
            Assert.Equal("python", written.GetProperty("kind").GetString());
            Assert.Contains("env.py", written.GetProperty("files").EnumerateArray().Select(f => f.GetString()));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void UnknownOption_IsOneLineNamingTheCommand()
    {
        var (exit, _, error) = Run("ps", "--frobnicate");
        Assert.Equal(1, exit);
        Assert.StartsWith("afs ps: Unrecognized command or argument '--frobnicate'", error);
    }

    [Fact]
    public void Run_EnvWithoutKey_DoesNotEchoTheValue()
    {
        var (exit, output, error) = Run("run", "img:1", "--env", "sk-looks-like-a-key");
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.StartsWith("afs run: --env expects KEY=VALUE", error);
        Assert.DoesNotContain("sk-looks", error);
    }

    [Fact]
    public void Run_MissingEnvFile_NamesIt()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"afs-missing-{Guid.NewGuid():N}.env");
        var (exit, _, error) = Run("run", "img:1", "--env-file", missing);
        Assert.Equal(1, exit);
        Assert.Equal($"afs run: --env-file {missing}: no such file\n", error);
    }

    [Fact]
    public void Run_EnvFileWithUnclosedQuote_NamesTheLine()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, ["A=1", "B=\"open"]);
            var (exit, _, error) = Run("run", "img:1", "--env-file", file);
            Assert.Equal(1, exit);
            Assert.Equal($"afs run: --env-file {file}, line 2: the value opens a double quote it does not close\n", error);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Run_BadReplicaCount_SaysTheRange()
    {
        var (exit, _, error) = Run("run", "img:1", "--replicas", "0");
        Assert.Equal(1, exit);
        Assert.Equal("afs run: replicas is 0; use 1 to 64\n", error);
    }
}
