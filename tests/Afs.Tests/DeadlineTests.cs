using System.Text.Json;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary>
/// Every task and every afs call has a finite deadline by default: the method's own <c>timeout</c> + 10 s, else a
/// fixed one; <c>--timeout none</c> only when asked for. Against a real host whose methods never return.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class DeadlineTests : IAsyncLifetime
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-afs-deadline-");
    private HostProcess _host = null!;

    private string Store => Path.Combine(_work.FullName, "results.db");

    private string Url => $"http://127.0.0.1:{_host.Port}";

    public async Task InitializeAsync()
    {
        _host = HostProcess.Start(new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", "hanging", "env.py") });
        await _host.WaitReadyAsync();
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _work.Delete(recursive: true);
    }

    [Fact]
    public async Task Eval_MethodThatNeverReturns_FailsAsDeadline_AfterItsOwnTimeoutPlusGrace_AndTheRunSaysSo()
    {
        var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync("eval", "--url", Url, "--tasks", "1-2", "--store", Store, "--json")
            .Within(TimeSpan.FromSeconds(60), "afs eval of a hanging environment");
        Assert.True(exit == 0, error);
        var document = JsonDocument.Parse(output).RootElement;
        Assert.Equal(10.25, document.GetProperty("run").GetProperty("timeout_s").GetDouble());
        Assert.Equal(2, document.GetProperty("summary").GetProperty("failed").GetInt32());
        Assert.Equal("deadline", document.GetProperty("summary").GetProperty("failures")[0].GetProperty("kind").GetString());
    }

    [Fact]
    public async Task Call_WithoutTimeout_EndsAtTheDefault_SayingWhichAndHowToChangeIt()
    {
        var (exit, output, error) = await AfsEnvironmentFixture.AfsAsync("call", "--url", Url, "evaluate", "--arg", "task_id=1", "--arg", "timeout=0.5")
            .Within(TimeSpan.FromSeconds(60), "afs call of a hanging method");
        Assert.Equal(4, exit);
        Assert.Equal("", output);
        // The host's deadline and the client's are the same: whichever side ends the call first, the line says so.
        Assert.Matches(@"\Aafs call: evaluate did not answer within 10\.5 s, afs call's default deadline \(its timeout argument \+ 10 s\)" +
            @"(; the environment cancelled it)?; give --timeout S for another, or --timeout none\n\z", error);
    }

    [Fact]
    public async Task Help_StatesTheDefaults()
    {
        var (_, evalHelp, _) = await AfsEnvironmentFixture.AfsAsync("eval", "--help");
        Assert.Contains("default: the method's timeout argument + 10 s when it has one, else 600 s; none: no deadline", evalHelp.ReplaceLineEndings(" ").Replace("  ", " ", StringComparison.Ordinal));
        var (_, callHelp, _) = await AfsEnvironmentFixture.AfsAsync("call", "--help");
        Assert.Contains("else 300 s, for the call itself; none: no deadline", string.Join(' ', callHelp.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries)));
    }

    [Theory]
    [InlineData("0", "--timeout 0 must be more than zero seconds (or none for no deadline)")]
    [InlineData("-3", "--timeout -3 must be more than zero seconds (or none for no deadline)")]
    [InlineData("soon", "--timeout 'soon' is not a number of seconds; give e.g. 30 or 2.5, or none for no deadline")]
    public async Task BadTimeout_IsAUsageError(string value, string message)
    {
        var (exit, _, error) = await AfsEnvironmentFixture.AfsAsync("eval", "--url", Url, "--tasks", "1", "--timeout", value, "--store", Store);
        Assert.Equal(1, exit);
        Assert.Contains(message, error);
    }
}
