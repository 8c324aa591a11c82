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
}
