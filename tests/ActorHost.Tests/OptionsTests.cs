using Affinetes.ActorHost.Hosting;
using Affinetes.Testing;

namespace Affinetes.ActorHost.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class OptionsTests
{
    [Fact]
    public void Defaults_MatchTheOriginal()
    {
        var options = ActorHostOptions.Load([], new Dictionary<string, string>());
        Assert.Equal("/app/env.py", options.EnvFile);
        Assert.Equal(8000, options.Port);
        Assert.Null(options.Bind);
        Assert.Null(options.AuthToken);
        Assert.Null(options.CallTimeout);
        Assert.False(options.Debug);
    }

    [Fact]
    public void EnvironmentVariables_AreRead_AndCommandLineWins()
    {
        var env = new Dictionary<string, string>
        {
            ["AFFINETES_ENV_FILE"] = "/srv/env.py",
            ["AFFINETES_PORT"] = "9000",
            ["AFFINETES_AUTH_TOKEN"] = "t",
            ["AFFINETES_CALL_TIMEOUT"] = "2.5",
            ["AFFINETES_DEBUG"] = "1",
            ["UNRELATED"] = "x",
        };
        var options = ActorHostOptions.Load(["--port", "9100", "--bind", "127.0.0.1", "--check"], env);
        Assert.Equal("/srv/env.py", options.EnvFile);
        Assert.Equal(9100, options.Port);
        Assert.Equal("127.0.0.1", options.Bind);
        Assert.Equal("t", options.AuthToken);
        Assert.Equal(TimeSpan.FromSeconds(2.5), options.CallTimeout);
        Assert.True(options.Debug);
        Assert.True(options.CheckOnly);
    }

    [Theory]
    [InlineData("AFFINETES_PORT", "http", "--port is 'http'")]
    [InlineData("AFFINETES_PORT", "70000", "from 0 to 65535")]
    [InlineData("AFFINETES_CALL_TIMEOUT", "soon", "use seconds")]
    [InlineData("AFFINETES_DEBUG", "maybe", "use true or false")]
    [InlineData("AFFINETES_PYTHON_WORKERS", "0", "from 1 to 256")]
    public void BadValue_SaysWhichSettingAndHowToFix(string key, string value, string message)
    {
        var e = Assert.Throws<OptionsException>(() => ActorHostOptions.Load([], new Dictionary<string, string> { [key] = value }));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void UnknownOption_IsRejectedWithUsage()
    {
        var e = Assert.Throws<OptionsException>(() => ActorHostOptions.Load(["--prot", "1"], new Dictionary<string, string>()));
        Assert.Contains("unknown option --prot", e.Message);
        Assert.Contains("--env-file", e.Message);
    }

    /// <summary>A value for each setting that differs from its default (a test value must be added with each new setting).</summary>
    private static readonly Dictionary<string, string> Examples = new()
    {
        ["ENV_FILE"] = "/srv/env.py",
        ["RUNTIME"] = "csharp",
        ["PORT"] = "9001",
        ["BIND"] = "127.0.0.1",
        ["UNIX_SOCKET"] = "/run/a.sock",
        ["LLM_SOCKET"] = "/run/llm.sock",
        ["LLM_RELAY_PORT"] = "8791",
        ["AUTH_TOKEN"] = "secret",
        ["AUTH_TOKEN_SHA256"] = new string('a', 64),
        ["MAX_BODY_BYTES"] = "2048",
        ["MAX_RESULT_BYTES"] = "4096",
        ["MAX_CONCURRENCY"] = "7",
        ["CALL_TIMEOUT"] = "2.5",
        ["SHUTDOWN_GRACE"] = "3",
        ["UNSERVABLE_GRACE"] = "4",
        ["WORKER_WRITE_OFF"] = "0.5",
        ["DEBUG"] = "true",
        ["STRICT_TYPES"] = "true",
        ["PYTHON_WORKERS"] = "2",
        ["PYTHON"] = "/usr/bin/python3.11",
        ["CHECK"] = "true",
        ["COMPILE"] = "true",
        ["CACHE_DIR"] = "/tmp/actors",
        ["SIDECAR_COMMAND"] = "[\"python3\", \"server.py\"]",
        ["SIDECAR_PORT"] = "9100",
        ["SIDECAR_METHODS"] = "a,b",
        ["SIDECAR_START_TIMEOUT"] = "5",
        ["LEASE_SECONDS"] = "60",
    };

    /// <summary>Settings that are only valid together.</summary>
    private static readonly Dictionary<string, string> Companions = new() { ["LLM_SOCKET"] = "LLM_RELAY_PORT", ["LLM_RELAY_PORT"] = "LLM_SOCKET" };

    public static TheoryData<string> Names() => [.. ActorHostOptions.Table.Select(o => o.Name)];

    [Theory]
    [MemberData(nameof(Names))]
    public void EverySetting_IsInTheUsage_AndBindsTheSame_FromItsVariableAndItsSwitch(string name)
    {
        var option = ActorHostOptions.Table.Single(o => o.Name == name);
        Assert.True(Examples.ContainsKey(name), $"add an example value of {name} to OptionsTests.Examples");
        Assert.Contains(option.Switch + (option.IsFlag ? "" : " " + option.Value), ActorHostOptions.Usage);
        Assert.Contains($"({name}", ActorHostOptions.Usage);

        var given = new[] { name }.Concat(Companions.TryGetValue(name, out var companion) ? [companion] : Array.Empty<string>()).ToList();
        var fromVariables = ActorHostOptions.Load([], given.ToDictionary(n => "AFFINETES_" + n, n => Examples[n]));
        var fromSwitches = ActorHostOptions.Load([.. given.SelectMany(n => new[] { ActorHostOptions.Table.Single(o => o.Name == n).Switch, Examples[n] })],
            new Dictionary<string, string>());
        var defaults = ActorHostOptions.Load([], new Dictionary<string, string>());

        Assert.Equal(option.Show(fromVariables), option.Show(fromSwitches));
        Assert.NotEqual(option.Show(defaults), option.Show(fromVariables));
        Assert.Equal(option.Variable, "AFFINETES_" + name);
    }

    [Fact]
    public void Flags_AloneOnTheCommandLine_MeanTrue()
    {
        foreach (var flag in ActorHostOptions.Table.Where(o => o.IsFlag))
        {
            Assert.Equal("true", flag.Show(ActorHostOptions.Load([flag.Switch], new Dictionary<string, string>())));
        }
    }
}
