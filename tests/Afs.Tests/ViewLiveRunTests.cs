using System.Globalization;
using Affinetes.Testing;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;
using OpenQA.Selenium;

namespace Affinetes.Afs.Tests;

/// <summary>
/// The page of a run in progress, in headless Chromium: the evaluation runner in this process works through slow
/// tasks of a real host process while <c>afs view</c> serves the store, and the page follows it without a reload
/// (done, in flight, rate, ETA, charts), then reloads once when the run has ended.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
[Trait("Browser", "true")]
public sealed class ViewLiveRunTests
{
    private static int Done(Browser browser) =>
        int.Parse(browser.Driver.FindElement(By.Id("progress")).GetAttribute("data-done")!, CultureInfo.InvariantCulture);

    [Fact]
    public async Task RunPage_OfARunInProgress_UpdatesItselfWithoutReload_ThenReloadsOnceItEnds()
    {
        var directory = Directory.CreateTempSubdirectory("affinetes-view-live-").FullName;
        var storePath = Path.Combine(directory, "results.db");
        try
        {
            await using var host = HostProcess.Start(new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", "view", "env.py") });
            await host.WaitReadyAsync();
            await using var environment = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [$"http://127.0.0.1:{host.Port}"] }).Within();
            await using var store = await ResultStore.OpenAsync(storePath);
            var run = await EvaluationRunner.Create(environment, store).StartAsync(new EvaluationRequest
            {
                Method = "slow",
                TaskIds = [.. Enumerable.Range(1, 30).Select(i => (long)i)],
                Kwargs = new Dictionary<string, object?> { ["ms"] = 500 },
                Concurrency = 2,
                Label = "slow and watched",
            }).Within();
            await using var view = await AfsViewServer.StartAsync(storePath);
            var page = new Uri(view.Url, "/runs/" + run.Id);
            using (var client = new HttpClient())
            {
                // Without script, the page of a running run reloads itself.
                Assert.Contains("<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>", await client.GetStringAsync(page).Within(), StringComparison.Ordinal);
            }
            using var browser = Browser.Start(1280, 1000);
            browser.Open(page.ToString());
            browser.WaitFor(By.Id("progress"), "the run's progress");
            Assert.Equal(0, Done(browser));
            browser.Script("window.stillTheSamePage = true");

            var reading = Task.Run(async () =>
            {
                await foreach (var _ in run.ResultsAsync())
                {
                }
            });
            browser.Until(d => Done(browser) >= 4, "the page showing tasks done, without a reload");
            Assert.Equal(true, browser.Script("return window.stillTheSamePage === true"));
            Assert.True(int.Parse(browser.Driver.FindElement(By.Id("live")).GetAttribute("data-updates")!, CultureInfo.InvariantCulture) >= 1);
            browser.Until(d => d.FindElement(By.CssSelector("[data-figure='in-flight'] dd")).Text is "1" or "2", "tasks in flight shown");
            Assert.Matches(@"^\d+(\.\d+)? tasks/s$", browser.Driver.FindElement(By.CssSelector("[data-figure='rate'] dd")).Text);
            Assert.Matches(@"^\d+(\.\d)? (s|ms|min)$", browser.Driver.FindElement(By.CssSelector("[data-figure='eta'] dd")).Text);
            // The charts fill in: the score histogram counts as many tasks as are done.
            browser.Until(d => d.FindElements(By.CssSelector("svg[data-chart='scores'] rect.bar")).Sum(b => int.Parse(b.GetAttribute("data-count")!, CultureInfo.InvariantCulture))
                == int.Parse(d.FindElement(By.Id("progress")).GetAttribute("data-done")!, CultureInfo.InvariantCulture), "the chart counting the tasks done");
            var seen = Done(browser);
            Assert.InRange(seen, 4, 29);
            browser.Screenshot("view-live-run-1280");
            browser.Until(d => Done(browser) > seen, "more tasks done, still without a reload");
            Assert.Equal(true, browser.Script("return window.stillTheSamePage === true"));

            await reading.Within(TimeSpan.FromSeconds(60), "the run finishing");
            // The run ended: the page reloaded once, and is the page of a completed run.
            browser.Until(d => !(bool)browser.Script("return window.stillTheSamePage === true")!, "the page reloading when the run ended");
            var heading = browser.WaitFor(By.TagName("h2"), "the run's heading");
            Assert.Contains("completed", heading.Text, StringComparison.Ordinal);
            Assert.Empty(browser.Driver.FindElements(By.Id("progress")));
            Assert.Equal(30, browser.Driver.FindElements(By.CssSelector("#task-table tbody tr")).Count);
            Assert.Empty(browser.Errors());
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
