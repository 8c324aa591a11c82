using System.CommandLine;
using System.Net;
using System.Text.RegularExpressions;
using Affinetes.Testing;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;
using OpenQA.Selenium;

namespace Affinetes.Afs.Tests;

/// <summary>
/// A results store with two runs of the same 20 tasks (two "miners": models weak and strong; tasks 7 and 14 fail)
/// and a run of 4 conversations with a local model through a real LLM gateway (the second turn streamed), written by
/// the evaluation runner against a real host process, and <c>afs view</c> serving it.
/// </summary>
public sealed class ViewFixture : IAsyncLifetime
{
    private AfsViewServer? _view;

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("affinetes-view-").FullName;

    public string StorePath => Path.Combine(Directory, "results.db");

    public Uri Url => _view!.Url;

    public RunInfo Weak { get; private set; } = null!;

    public RunInfo Strong { get; private set; } = null!;

    public RunInfo Chat { get; private set; } = null!;

    public HttpClient Client { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public async Task InitializeAsync()
    {
        await using (var host = HostProcess.Start(new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", "view", "env.py") }))
        {
            await host.WaitReadyAsync();
            await using var environment = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions
            {
                Mode = EnvironmentMode.Url,
                BaseUrls = [$"http://127.0.0.1:{host.Port}"],
            }).Within(what: "loading the environment");
            await using var store = await ResultStore.OpenAsync(StorePath);
            var runner = EvaluationRunner.Create(environment, store);
            foreach (var model in new[] { "weak", "strong" })
            {
                var run = await runner.StartAsync(new EvaluationRequest
                {
                    TaskIds = [.. Enumerable.Range(1, 20).Select(i => (long)i)],
                    Kwargs = new Dictionary<string, object?> { ["model"] = model },
                    Environment = "view-test-env",
                    ImageDigest = "sha256:" + new string(model[0], 64),
                    Label = "miner-" + model,
                    Concurrency = 4,
                }).Within();
                await Task.Run(async () =>
                {
                    await foreach (var _ in run.ResultsAsync())
                    {
                    }
                }).Within(TimeSpan.FromSeconds(60), $"run {run.Id}");
            }

            // Conversations through the gateway: the model names the task of the first user message.
            await using var upstream = await LocalLlmServer.StartAsync(request =>
            {
                var task = request.Messages.First(m => m.Role == "user").Content.Split(':')[0];
                return LlmReply.Text($"{task}, as asked.\nAnswer: {task}") with { Reasoning = "The user names the task.", Usage = (24, 6) };
            });
            await using var gateway = await InProcessGateway.StartAsync(upstream.BaseUrl);
            var (chatEnvironment, token) = await gateway.FrontAsync(environment, new Protocol.GatewayTenant { Name = "view-chat" });
            var chat = await EvaluationRunner.Create(chatEnvironment, store).StartAsync(new EvaluationRequest
            {
                Method = "converse",
                TaskIds = [1, 2, 3, 4],
                Kwargs = new Dictionary<string, object?> { ["base_url"] = chatEnvironment.LlmBaseUrl, ["api_key"] = token, ["model"] = "local-chat-model" },
                Environment = "view-test-env",
                ImageDigest = "sha256:" + new string('c', 64),
                Label = "conversations",
                Concurrency = 2,
            }).Within();
            await Task.Run(async () =>
            {
                await foreach (var _ in chat.ResultsAsync())
                {
                }
            }).Within(TimeSpan.FromSeconds(60), $"run {chat.Id}");

            var runs = await store.ListRunsAsync();
            Weak = runs.Single(r => r.Label == "miner-weak");
            Strong = runs.Single(r => r.Label == "miner-strong");
            Chat = runs.Single(r => r.Label == "conversations");
        }

        _view = await AfsViewServer.StartAsync(StorePath);
    }

    public async Task DisposeAsync()
    {
        if (_view is not null)
        {
            await _view.DisposeAsync();
        }
        Client.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary><c>afs view</c> in this process on a store, on a free port of 127.0.0.1, stopped as Ctrl+C stops it.</summary>
public sealed partial class AfsViewServer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly StringWriter _output = new();
    private readonly StringWriter _error = new();
    private Task<int> _view = null!;

    public Uri Url { get; private set; } = null!;

    public static async Task<AfsViewServer> StartAsync(string storePath)
    {
        var server = new AfsViewServer();
        server._view = Task.Run(() => AfsCli.RunAsync(["view", "--store", storePath, "--port", "0"],
            new InvocationConfiguration { Output = TextWriter.Synchronized(server._output), Error = TextWriter.Synchronized(server._error) }, server._stop.Token));
        await Bounded.Until(() => Task.FromResult(UrlPattern().IsMatch(server._output.ToString()) || server._view.IsCompleted), TimeSpan.FromSeconds(30), "afs view printing its address");
        Assert.False(server._view.IsCompleted, $"afs view ended: {server._error}");
        server.Url = new Uri(UrlPattern().Match(server._output.ToString()).Groups[1].Value);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Assert.Equal(130, await _view.Within(TimeSpan.FromSeconds(15), "afs view stopping on Ctrl+C"));
    }

    [GeneratedRegex(@"at (http://127\.0\.0\.1:\d+)/")]
    private static partial Regex UrlPattern();
}

[CollectionDefinition(Name)]
public sealed class ViewCollection : ICollectionFixture<ViewFixture>
{
    public const string Name = "afs-view";
}

[Trait(Tiers.Name, Tiers.Host)]
[Collection(ViewCollection.Name)]
public sealed class ViewTests(ViewFixture fixture)
{
    private static IReadOnlyList<IWebElement> Rows(Browser browser, string table) =>
        browser.Driver.FindElements(By.CssSelector($"#{table} tbody tr"));

    private static int SumOf(Browser browser, string chart, string attribute) =>
        browser.Driver.FindElements(By.CssSelector($"svg[data-chart='{chart}'] rect.bar")).Sum(b => int.Parse(b.GetAttribute(attribute)!, System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    [Trait("Browser", "true")]
    public void View_Runs_NavigateSortFilterOpenAFailedTask_ChartsDrawn_AndSideBySide_ToldApartTaskByTask()
    {
        using var browser = Browser.Start(1280, 800);
        browser.Open(fixture.Url.ToString());
        browser.WaitFor(By.Id("runs"), "the runs table");
        Assert.Equal(3, Rows(browser, "runs").Count);
        var weakRow = browser.Driver.FindElement(By.CssSelector($"tr[data-run='{fixture.Weak.Id}']"));
        Assert.Contains("view-test-env", weakRow.Text, StringComparison.Ordinal);
        Assert.Contains("weak", weakRow.Text, StringComparison.Ordinal); // the model of its kwargs
        Assert.Contains("20/20", weakRow.Text, StringComparison.Ordinal);
        // One line per run: every row as tall as the first.
        Assert.Single(Rows(browser, "runs").Select(r => r.Size.Height).Distinct());
        Assert.True(browser.FitsWidth(), "the runs page is wider than a 1280 px window");
        Assert.Equal(true, browser.Script("const t = document.getElementById('runs').parentElement; return t.scrollWidth <= t.clientWidth")); // no scrolling sideways either
        Assert.Matches(@"\d\.\d+ ± \d\.\d+", weakRow.Text); // the mean and its 95% interval
        Assert.Contains("completed", weakRow.Text, StringComparison.Ordinal);
        browser.Screenshot("view-runs-1280");

        // To the weak run's page: figures and both charts, each bar counting its tasks.
        weakRow.FindElement(By.LinkText(fixture.Weak.Id)).Click();
        browser.WaitFor(By.Id("task-table"), "the run's task table");
        Assert.Equal(20, Rows(browser, "task-table").Count);
        Assert.Equal(10, browser.Driver.FindElements(By.CssSelector("svg[data-chart='scores'] rect.bar")).Count);
        Assert.Equal(20, SumOf(browser, "scores", "data-count"));
        Assert.Equal(10, browser.Driver.FindElements(By.CssSelector("svg[data-chart='latency'] rect.bar")).Count);
        Assert.Equal(20, SumOf(browser, "latency", "data-count"));
        Assert.Contains("actor_error", browser.Driver.FindElement(By.Id("failures")).Text, StringComparison.Ordinal);

        // Sort by score: highest first, then lowest first.
        browser.Driver.FindElement(By.CssSelector("a[data-sort='score']")).Click();
        browser.Until(d => d.Url.Contains("sort=score&dir=desc", StringComparison.Ordinal), "the table sorted by score");
        var scores = Rows(browser, "task-table").Select(r => double.Parse(r.FindElements(By.TagName("td"))[1].Text, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(scores.OrderByDescending(s => s), scores);
        Assert.Equal(1.0, scores[0]);
        Assert.Equal("descending", browser.Driver.FindElement(By.CssSelector("th[aria-sort]")).GetAttribute("aria-sort"));
        browser.Driver.FindElement(By.CssSelector("a[data-sort='score']")).Click();
        browser.Until(d => d.Url.Contains("sort=score&dir=asc", StringComparison.Ordinal), "the table sorted by score, ascending");
        scores = [.. Rows(browser, "task-table").Select(r => double.Parse(r.FindElements(By.TagName("td"))[1].Text, System.Globalization.CultureInfo.InvariantCulture))];
        Assert.Equal(scores.Order(), scores);
        browser.Screenshot("view-run-1280");

        // Failed tasks only, then the first of them.
        browser.Driver.FindElement(By.Id("filter")).Click();
        browser.Until(d => d.Url.Contains("failed=1", StringComparison.Ordinal), "the failed-only filter");
        var failed = Rows(browser, "task-table");
        Assert.Equal(["7", "14"], failed.Select(r => r.GetAttribute("data-task")!).Order(StringComparer.Ordinal).Reverse().ToList());
        Assert.All(failed, r => Assert.Contains("failed", r.GetAttribute("class"), StringComparison.Ordinal));
        browser.Driver.FindElement(By.LinkText("7")).Click();
        var error = browser.WaitFor(By.Id("error"), "the failed task's error");
        Assert.Contains("task 7 has no answer", error.Text, StringComparison.Ordinal);
        Assert.Contains("ValueError", error.Text, StringComparison.Ordinal);
        Assert.Contains("actor_error", browser.Driver.FindElement(By.TagName("main")).Text, StringComparison.Ordinal);
        browser.Screenshot("view-failed-task-1280");

        // Back to the runs, the two miners chosen by keyboard, side by side: told apart by letter, id, digest and model.
        browser.Driver.FindElement(By.LinkText("runs")).Click();
        browser.WaitFor(By.Id("runs"), "the runs table");
        foreach (var id in new[] { fixture.Weak.Id, fixture.Strong.Id })
        {
            browser.Script("arguments[0].focus()", browser.Driver.FindElement(By.CssSelector($"#runs input[value='{id}']")));
            browser.Press(" ");
        }
        browser.Press(Keys.Enter);
        var chart = browser.WaitFor(By.CssSelector("svg[data-chart='compare']"), "the comparison chart");
        var bars = chart.FindElements(By.CssSelector("rect.bar"));
        Assert.Equal(2, bars.Count);
        Assert.Equal(2, chart.FindElements(By.CssSelector("line.ci")).Count);
        var labels = chart.FindElements(By.CssSelector("text.bar-label")).Select(t => t.Text).ToList();
        Assert.Equal(2, labels.Distinct().Count()); // no longer the same truncated label twice
        Assert.Equal(["A " + View.Format.ShortId(fixture.Weak.Id), "B " + View.Format.ShortId(fixture.Strong.Id)], labels);
        var compared = browser.Driver.FindElement(By.Id("compare-table")).Text;
        Assert.Contains("miner-weak", compared, StringComparison.Ordinal);
        Assert.Contains("miner-strong", compared, StringComparison.Ordinal);
        Assert.Contains("wwwwwwwwwwww", compared, StringComparison.Ordinal); // the digests, shortened
        Assert.Contains("ssssssssssss", compared, StringComparison.Ordinal);

        // Task by task, the disagreements first: the strong model succeeds where the weak one does not (tasks 1, 6, 11, 16).
        var differences = Rows(browser, "task-differences");
        Assert.Equal(20, differences.Count);
        Assert.Equal("4", browser.Driver.FindElement(By.CssSelector("[data-figure='success-differs'] dd")).Text);
        Assert.Equal(["1", "6", "11", "16"], differences.Take(4).Select(r => r.GetAttribute("data-task")!));
        Assert.All(differences.Take(4), r => Assert.Contains("differs", r.GetAttribute("class"), StringComparison.Ordinal));
        Assert.DoesNotContain("differs", differences[^1].GetAttribute("class") ?? "", StringComparison.Ordinal); // the same score in both
        browser.Screenshot("view-compare-1280");
        browser.Driver.FindElement(By.CssSelector("#task-differences a[data-sort='difference']")).Click();
        browser.Until(d => d.Url.Contains("sort=difference&dir=desc", StringComparison.Ordinal), "the differences sorted");
        var sorted = Rows(browser, "task-differences").Select(r => double.Parse(r.FindElement(By.CssSelector("td[data-difference]")).GetAttribute("data-difference")!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(sorted.OrderByDescending(d => d), sorted);
        Assert.Equal(0.25, sorted[0]);

        // A narrow window: nothing wider than it; every control reachable by Tab.
        browser.Resize(900, 800);
        browser.Open(new Uri(fixture.Url, $"/runs/{fixture.Strong.Id}").ToString());
        browser.WaitFor(By.Id("task-table"), "the strong run's task table");
        Assert.True(browser.FitsWidth(), "the run page is wider than a 900 px window");
        Assert.Equal(0L, browser.Script("return [...document.querySelectorAll('a, button, input')].filter(e => e.tabIndex < 0 || e.disabled).length"));
        browser.Screenshot("view-run-900");
        browser.Open(fixture.Url.ToString());
        browser.WaitFor(By.Id("runs"), "the runs table");
        Assert.True(browser.FitsWidth(), "the runs page is wider than a 900 px window");
        browser.Screenshot("view-runs-900");

        Assert.Empty(browser.Errors());
    }

    [Fact]
    public async Task View_UnknownRunOrTask_Answers404SayingSo_AndTheStyleSheetIsCached()
    {
        using (var response = await fixture.Client.GetAsync(new Uri(fixture.Url, "/runs/no-such-run")).Within())
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("the store has no run &#x27;no-such-run&#x27;", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var response = await fixture.Client.GetAsync(new Uri(fixture.Url, $"/runs/{fixture.Weak.Id}/tasks/999")).Within())
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("has no result for task 999", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        var page = await fixture.Client.GetStringAsync(fixture.Url).Within();
        var style = Regex.Match(page, "/view\\.css\\?v=[0-9a-f]{16}").Value;
        Assert.NotEmpty(style);
        using var css = await fixture.Client.GetAsync(new Uri(fixture.Url, style)).Within();
        Assert.Equal("text/css; charset=utf-8", css.Content.Headers.ContentType!.ToString());
        Assert.Equal(TimeSpan.FromDays(365), css.Headers.CacheControl!.MaxAge);
        using var again = new HttpRequestMessage(HttpMethod.Get, new Uri(fixture.Url, style));
        again.Headers.IfNoneMatch.Add(css.Headers.ETag!);
        using var revalidated = await fixture.Client.SendAsync(again).Within();
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        using var script = await fixture.Client.GetAsync(new Uri(fixture.Url, Regex.Match(page, "/view\\.js\\?v=[0-9a-f]{16}").Value)).Within();
        Assert.Equal("text/javascript; charset=utf-8", script.Content.Headers.ContentType!.ToString());
        using var pageResponse = await fixture.Client.GetAsync(fixture.Url).Within();
        Assert.Contains("script-src 'self'", pageResponse.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal); // the viewer's own script only
    }

    [Fact]
    public async Task LiveEvents_OfAFinishedRun_SendItsSectionOnceThenFinished()
    {
        using var response = await fixture.Client.GetAsync(new Uri(fixture.Url, $"/runs/{fixture.Weak.Id}/live")).Within();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = await response.Content.ReadAsStringAsync().Within();
        Assert.StartsWith("event: live\ndata: ", events, StringComparison.Ordinal);
        Assert.Contains("data-chart=\"scores\"", events, StringComparison.Ordinal);
        Assert.EndsWith("event: finished\ndata: \n\n", events, StringComparison.Ordinal);
        using var missing = await fixture.Client.GetAsync(new Uri(fixture.Url, "/runs/no-such-run/live")).Within();
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }
}

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ViewCommandTests
{
    private static (int Exit, string Error) Run(params string[] args)
    {
        var error = new StringWriter();
        var exit = AfsCli.RunAsync(args, new InvocationConfiguration { Output = new StringWriter(), Error = error }).GetAwaiter().GetResult();
        return (exit, error.ToString());
    }

    [Fact]
    public void View_WithoutAStore_SaysWhereItLookedAndHowToGiveOne()
    {
        var missing = Path.Combine(Path.GetTempPath(), "affinetes-no-store-" + Guid.NewGuid().ToString("N"), "results.db");
        var (exit, error) = Run("view", "--store", missing);
        Assert.Equal(1, exit);
        Assert.Contains($"there is no results store at {missing}", error, StringComparison.Ordinal);
        Assert.Contains("--store FILE", error, StringComparison.Ordinal);
        Assert.False(File.Exists(missing));
    }

    [Fact]
    public void View_RunWithoutExport_SaysToGiveExport()
    {
        var (exit, error) = Run("view", "--run", "some-run", "--store", "/nonexistent/results.db");
        Assert.Equal(1, exit);
        Assert.Contains("there is no results store", error, StringComparison.Ordinal); // the store is looked for first
        var store = Path.Combine(Path.GetTempPath(), "affinetes-view-run-" + Guid.NewGuid().ToString("N") + ".db");
        try
        {
            using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={store};Pooling=False"))
            {
                connection.Open();
            }
            (exit, error) = Run("view", "--run", "some-run", "--store", store);
            Assert.Equal(1, exit);
            Assert.Contains("--run chooses the runs of an export; give --export DIR too", error, StringComparison.Ordinal);
            (exit, error) = Run("view", "--export", Path.Combine(Path.GetTempPath(), "affinetes-export-" + Guid.NewGuid().ToString("N")), "--run", "no-such-run", "--store", store);
            Assert.Equal(1, exit);
            Assert.Contains("has no run 'no-such-run'", error, StringComparison.Ordinal);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            File.Delete(store);
        }
    }

    [Fact]
    public void View_BadBind_SaysWhatToGive()
    {
        var (exit, error) = Run("view", "--bind", "localhost:80", "--store", "/nonexistent/results.db");
        Assert.Equal(1, exit);
        Assert.Contains("--bind localhost:80 is not an IP address", error, StringComparison.Ordinal);
    }
}

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class SvgChartsTests
{
    [Fact]
    public void Bins_SpreadValuesOverEqualBins_TheMaximumInTheLast()
    {
        var bins = View.SvgCharts.Bins([0, 0.05, 0.55, 0.99, 1], 10);
        Assert.Equal(10, bins.Count);
        Assert.Equal([2, 0, 0, 0, 0, 1, 0, 0, 0, 2], bins.Select(b => b.Count));
        Assert.Equal(1, bins[^1].To);
    }

    [Fact]
    public void Bins_AllEqual_IsOneBar_AndNoValues_NoBar_SaidInTheChart()
    {
        var one = View.SvgCharts.Bins([1, 1, 1], 10);
        Assert.Equal(new View.SvgCharts.Bin(1, 1, 3), Assert.Single(one));
        var svg = View.SvgCharts.Histogram("scores", "score", one, View.SvgCharts.Fmt);
        Assert.Single(Regex.Matches(svg, "<rect class=\"bar\" data-count=\"3\""));
        Assert.Empty(View.SvgCharts.Bins([], 10));
        Assert.Contains("no values", View.SvgCharts.Histogram("latency", "ms", [], View.SvgCharts.Fmt), StringComparison.Ordinal);
    }
}
