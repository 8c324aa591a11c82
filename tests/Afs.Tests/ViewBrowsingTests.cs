using System.Text.Json;
using Affinetes.Testing;
using OpenQA.Selenium;

namespace Affinetes.Afs.Tests;

/// <summary>
/// Finding runs and taking them away: the index's filters and search (a form, no script), a run's tasks as CSV and
/// JSON, and <c>afs view --export DIR</c> opened from disk in headless Chromium.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
[Collection(ViewCollection.Name)]
public sealed class ViewBrowsingTests(ViewFixture fixture)
{
    private static List<string> RunRows(Browser browser) =>
        [.. browser.Driver.FindElements(By.CssSelector("#runs tbody tr")).Select(r => r.GetAttribute("data-run")!)];

    [Fact]
    [Trait("Browser", "true")]
    public void Index_FilterByModelStatusAndDate_AndSearch_NarrowTheRuns()
    {
        using var browser = Browser.Start(1280, 800);
        browser.Open(fixture.Url.ToString());
        browser.WaitFor(By.Id("filters"), "the filters");
        Assert.Equal(3, RunRows(browser).Count);

        browser.Driver.FindElements(By.CssSelector("select[name='model'] option")).Single(o => o.Text == "weak").Click();
        browser.Driver.FindElement(By.CssSelector("#filters button[type=submit]")).Click();
        browser.Until(d => d.Url.Contains("model=weak", StringComparison.Ordinal), "the model filter applied");
        Assert.Equal([fixture.Weak.Id], RunRows(browser));
        Assert.Equal("weak", browser.Script("return document.querySelector(\"select[name='model']\").value")); // the form keeps what was chosen
        browser.Screenshot("view-runs-filtered-1280");

        browser.Driver.FindElement(By.Id("clear")).Click();
        browser.WaitFor(By.Id("runs"), "every run again");
        var search = browser.Driver.FindElement(By.Name("q"));
        search.SendKeys("conversations");
        search.SendKeys(Keys.Enter);
        browser.Until(d => d.Url.Contains("q=conversations", StringComparison.Ordinal), "the search applied");
        Assert.Equal([fixture.Chat.Id], RunRows(browser));

        browser.Open(new Uri(fixture.Url, "/?status=running").ToString());
        Assert.Contains("No run matches", browser.WaitFor(By.Id("no-runs"), "no running run").Text, StringComparison.Ordinal);
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        browser.Open(new Uri(fixture.Url, $"/?status=completed&from={today}&to={today}&q=miner").ToString());
        browser.WaitFor(By.Id("runs"), "today's completed miner runs");
        Assert.Equal([fixture.Strong.Id, fixture.Weak.Id], RunRows(browser));
        browser.Open(new Uri(fixture.Url, "/?to=2000-01-01").ToString());
        browser.WaitFor(By.Id("no-runs"), "no run before 2000");
        Assert.Empty(browser.Errors());
    }

    [Fact]
    public async Task Run_DownloadsAsCsvAndJson_EveryTaskWithItsResult()
    {
        using var csv = await fixture.Client.GetAsync(new Uri(fixture.Url, $"/runs/{fixture.Weak.Id}.csv")).Within();
        Assert.Equal("text/csv; charset=utf-8", csv.Content.Headers.ContentType!.ToString());
        Assert.Contains(".csv", csv.Content.Headers.ContentDisposition!.ToString(), StringComparison.Ordinal);
        var lines = (await csv.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.Equal("task_id,score,success,error_kind,error,attempts,duration_ms,started_at,from_cache,llm_requests,prompt_tokens,completion_tokens,result", lines[0]);
        Assert.Equal(21, lines.Length);
        Assert.StartsWith("7,0,false,actor_error,evaluate raised ValueError: task 7 has no answer,1,", lines[7], StringComparison.Ordinal);
        var resultColumn = lines[1][(lines[1].IndexOf(",\"{", StringComparison.Ordinal) + 2)..^1].Replace("\"\"", "\"", StringComparison.Ordinal);
        Assert.Equal(1, JsonDocument.Parse(resultColumn).RootElement.GetProperty("task_id").GetInt32());

        using var json = await fixture.Client.GetAsync(new Uri(fixture.Url, $"/runs/{fixture.Chat.Id}.json")).Within();
        Assert.Equal("application/json; charset=utf-8", json.Content.Headers.ContentType!.ToString());
        var document = JsonDocument.Parse(await json.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(fixture.Chat.Id, document.GetProperty("run").GetProperty("id").GetString());
        Assert.Equal(4, document.GetProperty("tasks").GetArrayLength());
        Assert.Equal(1.0, document.GetProperty("summary").GetProperty("mean_score").GetDouble());

        using var missing = await fixture.Client.GetAsync(new Uri(fixture.Url, "/runs/no-such-run.csv")).Within();
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    [Trait("Browser", "true")]
    public async Task Export_OpenedFromDisk_RunsRunTaskConversationAndBack_StyledWithoutAServer()
    {
        var directory = Path.Combine(fixture.Directory, "export-" + Guid.NewGuid().ToString("N")[..6]);
        var (exit, output, error) = await Task.Run(() => AfsCliTests.Run("view", "--store", fixture.StorePath, "--export", directory)).Within(TimeSpan.FromMinutes(2), "afs view --export");
        Assert.True(exit == 0, error);
        Assert.Contains("3 run(s), 44 task page(s)", output, StringComparison.Ordinal);
        foreach (var file in new[] { "index.html", "compare.html", "assets/view.css", $"runs/{fixture.Chat.Id}.html", $"runs/{fixture.Chat.Id}.csv", $"runs/{fixture.Chat.Id}.json", $"runs/{fixture.Chat.Id}/tasks/2.html" })
        {
            Assert.True(File.Exists(Path.Combine(directory, file)), file);
        }
        Assert.DoesNotContain("href=\"/", await File.ReadAllTextAsync(Path.Combine(directory, "runs", fixture.Chat.Id, "tasks", "2.html"))); // every link relative

        using var browser = Browser.Start(1280, 900);
        browser.Open(new Uri(Path.Combine(directory, "index.html")).AbsoluteUri);
        browser.WaitFor(By.Id("runs"), "the exported runs");
        Assert.Equal(3, RunRows(browser).Count);
        Assert.Equal("solid", browser.Script("return getComputedStyle(document.querySelector('body > header')).borderBottomStyle")); // the style sheet loaded from disk
        browser.Driver.FindElement(By.LinkText(fixture.Chat.Id)).Click();
        browser.WaitFor(By.Id("task-table"), "the exported run");
        Assert.StartsWith("file://", browser.Driver.Url, StringComparison.Ordinal);
        Assert.Equal(4, browser.Driver.FindElements(By.CssSelector("#task-table tbody tr")).Count);
        browser.Driver.FindElement(By.LinkText("2")).Click();
        var conversation = browser.WaitFor(By.Id("conversation"), "the exported task's conversation");
        Assert.Equal(2, conversation.FindElements(By.CssSelector("article.exchange")).Count);
        browser.Screenshot("view-export-task-1280");
        browser.Driver.FindElement(By.Id("next-task")).Click();
        browser.Until(d => d.Url.EndsWith("/tasks/3.html", StringComparison.Ordinal), "the next exported task");
        browser.Driver.FindElement(By.LinkText("all tasks of the run")).Click();
        browser.WaitFor(By.Id("task-table"), "back to the exported run");
        Assert.EndsWith($"runs/{fixture.Chat.Id}.csv", browser.Driver.FindElement(By.LinkText("CSV")).GetAttribute("href"), StringComparison.Ordinal);
        browser.Driver.FindElement(By.LinkText("afs view")).Click();
        browser.WaitFor(By.Id("runs"), "the exported index again");
        browser.Open(new Uri(Path.Combine(directory, "compare.html")).AbsoluteUri);
        Assert.Equal(3, browser.WaitFor(By.CssSelector("svg[data-chart='compare']"), "the exported comparison").FindElements(By.CssSelector("rect.bar")).Count);
        Assert.Empty(browser.Errors());
    }
}
