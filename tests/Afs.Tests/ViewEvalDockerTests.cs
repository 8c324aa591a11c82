using Affinetes.Baseline;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Results;
using OpenQA.Selenium;

namespace Affinetes.Afs.Tests;

/// <summary>
/// What a user of <c>afs eval</c> sees afterwards: python-arith evaluated in an isolated network, its model calls
/// through afs's LLM gateway to the offline baseline, and each task's conversation on its page (and in
/// <c>afs show --task</c>). Screenshot: <c>artifacts/browser/view-eval-transcript-1280.png</c>.
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Trait("Browser", "true")]
[Collection(AfsEvalCollection.Name)]
public sealed class ViewEvalDockerTests(AfsEvalFixture fixture) : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-view-eval-");

    private string Store => Path.Combine(_work.FullName, "results.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _work.Delete(recursive: true);
    }

    [Fact]
    public async Task EvalIsolatedWithTheBaseline_EachTaskPageShowsWhatTheModelWasAskedAndAnswered()
    {
        var port = DockerEngine.FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (exit, _, error) = await AfsEnvironmentFixture.AfsAsync("eval", fixture.Arith, "--tasks", "1-3", "--store", Store, "--baseline-port", port);
        Assert.True(exit == 0, error);
        Assert.Contains("network isolated; model calls through the LLM gateway to ", error, StringComparison.Ordinal);
        string runId, prompt;
        await using (var store = await ResultStore.OpenAsync(Store))
        {
            runId = Assert.Single(await store.ListRunsAsync()).Id;
            var task = (await store.GetResultAsync(runId, 2))!;
            prompt = task.Value!.Value.GetProperty("prompt").GetString()!;
            Assert.Equal(BaselineModel.Answer(prompt), Assert.Single(task.Transcript!.Exchanges).Reply);
        }

        var (showExit, shown, showError) = await AfsEnvironmentFixture.AfsAsync("show", runId, "--task", "2", "--store", Store);
        Assert.True(showExit == 0, showError);
        Assert.Contains("[system]", shown, StringComparison.Ordinal);
        Assert.Contains("You are a careful mathematician.", shown, StringComparison.Ordinal);
        Assert.Contains("[assistant]", shown, StringComparison.Ordinal);

        await using var view = await AfsViewServer.StartAsync(Store);
        using var browser = Browser.Start(1280, 1000);
        browser.Open(new Uri(view.Url, $"/runs/{runId}/tasks/2").ToString());
        var exchange = browser.WaitFor(By.CssSelector("#conversation article.exchange"), "the task's exchange with the baseline");
        Assert.StartsWith("You are a careful mathematician.", exchange.FindElement(By.CssSelector(".msg.system .text")).Text, StringComparison.Ordinal);
        Assert.Equal(prompt, exchange.FindElement(By.CssSelector(".msg.user .text")).Text);
        Assert.Equal(BaselineModel.Answer(prompt).Replace("\r", "", StringComparison.Ordinal), exchange.FindElement(By.CssSelector(".msg.assistant .text")).Text);
        Assert.Contains(BaselineModel.Name, exchange.FindElement(By.CssSelector(".exchange-head")).Text, StringComparison.Ordinal);
        Assert.Contains("tokens", exchange.FindElement(By.CssSelector(".exchange-head")).Text, StringComparison.Ordinal);
        browser.Screenshot("view-eval-transcript-1280");
        Assert.Empty(browser.Errors());
    }

    [Fact]
    public async Task EvalWithNoTranscripts_KeepsTheUsageFigures_ButNoConversation_AndTheRunSaysSo()
    {
        var port = DockerEngine.FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (exit, _, error) = await AfsEnvironmentFixture.AfsAsync("eval", fixture.Arith, "--tasks", "1-3", "--store", Store, "--baseline-port", port, "--no-transcripts", "--no-cache");
        Assert.True(exit == 0, error);
        await using var store = await ResultStore.OpenAsync(Store);
        var run = Assert.Single(await store.ListRunsAsync());
        Assert.False(run.RecordTranscripts);
        var task = (await store.GetResultAsync(run.Id, 2))!;
        Assert.Null(task.Transcript);
        Assert.Equal(1, task.LlmUsage!.Requests);
        Assert.True(task.LlmUsage.TotalTokens > 0);
        var (resumeExit, _, resumeError) = await AfsEnvironmentFixture.AfsAsync("eval", "--resume", run.Id, "--no-transcripts", "--store", Store);
        Assert.Equal(1, resumeExit);
        Assert.Contains("drop --no-transcripts", resumeError);
    }
}
