using System.CommandLine;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Affinetes.Afs.Cli;
using Affinetes.Baseline;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary>afs eval, runs, show, score and baseline serve without Docker: url mode against a local host over real HTTP, and bad input.</summary>
[Trait(Tiers.Name, Tiers.Host)]
public sealed class AfsEvalTests : IAsyncLifetime
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-afs-eval-");
    private ScriptedHost _host = null!;

    private string Store => Path.Combine(_work.FullName, "results.db");

    public async Task InitializeAsync() => _host = await ScriptedHost.StartAsync("eval-host");

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _work.Delete(recursive: true);
    }

    private static Task<(int Exit, string Output, string Error)> AfsAsync(params string[] args) => AfsEnvironmentFixture.AfsAsync(args);

    private static List<JsonElement> JsonLines(string path) =>
        [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    [Fact]
    public async Task Eval_UrlMode_StoresEveryTask_RunsAndShowReadThem()
    {
        var jsonl = Path.Combine(_work.FullName, "out.jsonl");
        var (exit, output, error) = await AfsAsync("eval", "--url", _host.BaseUrl.ToString(), "--method", "echo", "--tasks", "1-20,40", "--kw", "x=5",
            "--store", Store, "--out", jsonl);
        Assert.True(exit == 0, error);
        Assert.Contains("afs eval: 21/21 done", error);
        Assert.Contains("no image digest in url mode", error);
        Assert.Contains("run ", output);
        var lines = JsonLines(jsonl);
        Assert.Equal(21, lines.Count);
        Assert.All(lines, l => Assert.Equal(5, l.GetProperty("result").GetProperty("echo").GetInt32()));
        Assert.Equal(21, _host.Calls);

        var run = lines[0].GetProperty("run").GetString()!;
        var (runsExit, runsOutput, _) = await AfsAsync("runs", "--store", Store);
        Assert.Equal(0, runsExit);
        Assert.Contains(run, runsOutput);
        Assert.Contains("21/21", runsOutput);
        var (showExit, showOutput, _) = await AfsAsync("show", run, "--store", Store);
        Assert.Equal(0, showExit);
        Assert.Contains("TASK", showOutput);
        Assert.Equal(21, showOutput.Split('\n').Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\d+\s+0\.000\s+no")));
    }

    [Fact]
    public async Task Eval_Interrupted_KeepsResults_ThenResumeRunsOnlyTheRest()
    {
        var jsonl = Path.Combine(_work.FullName, "out.jsonl");
        using var stop = new CancellationTokenSource();
        var output = new ConcurrentStringWriter();
        var error = new ConcurrentStringWriter();
        var running = AfsCli.RunAsync(["eval", "--url", _host.BaseUrl.ToString(), "--method", "echo", "--tasks", "1-30", "--kw", "sleep_ms=100",
            "--concurrency", "2", "--store", Store, "--out", jsonl], new InvocationConfiguration { Output = output, Error = error }, stop.Token);
        await Bounded.Until(() => Task.FromResult(File.Exists(jsonl) && File.ReadAllLines(jsonl).Length >= 4), TimeSpan.FromSeconds(60), "four results");
        await stop.CancelAsync();
        Assert.Equal(130, await running.Within(what: "afs eval to stop"));
        var kept = JsonLines(jsonl);
        Assert.InRange(kept.Count, 4, 29);
        var run = kept[0].GetProperty("run").GetString()!;
        Assert.Contains($"results of run {run} are kept in {Store}", error.ToString());
        Assert.Contains($"resume with: afs eval --resume {run} --store {Store}", error.ToString());

        var callsBefore = _host.Calls;
        var (exit, _, resumeError) = await AfsAsync("eval", "--resume", run, "--store", Store, "--out", jsonl);
        Assert.True(exit == 0, resumeError);
        var all = JsonLines(jsonl);
        Assert.Equal(Enumerable.Range(1, 30), all.Select(l => l.GetProperty("task_id").GetInt32()).Order());
        Assert.InRange(_host.Calls - callsBefore, 30 - kept.Count, 30 - kept.Count + 2); // at most the calls in flight at the stop again

        var (again, _, againError) = await AfsAsync("eval", "--resume", run, "--store", Store);
        Assert.Equal(1, again);
        Assert.Contains($"run {run} is complete", againError);
    }

    [Fact]
    public async Task Eval_OnAPseudoTerminal_DrawsTheBarAndTheSummary()
    {
        // script(1) gives afs a terminal as stdout; what it draws lands in the typescript file.
        var typescript = Path.Combine(_work.FullName, "typescript");
        var afs = string.Join(' ', new[]
        {
            Quote(System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet"),
            Quote(Path.Combine(AppContext.BaseDirectory, "afs.dll")),
            "eval", "--url", _host.BaseUrl.ToString(), "--method", "echo", "--tasks", "1-12", "--kw", "sleep_ms=300", "--concurrency", "2", "--store", Quote(Store),
        });
        var start = new ProcessStartInfo("script") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-qfec", afs, typescript })
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["TERM"] = "xterm-256color";
        start.Environment["COLUMNS"] = "160";
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().Within(TimeSpan.FromMinutes(2), "afs eval under script");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        var screen = File.ReadAllText(typescript);
        Assert.True(process.ExitCode == 0, screen + await stdout);
        Assert.Contains("━", screen);                      // the bar
        Assert.Contains("\u001b[", screen);                // redrawn in place with escape sequences
        Assert.Contains("in flight", screen);
        Assert.Contains("tasks/s, ETA", screen);
        Assert.Contains("12/12 done", screen);
        Assert.Contains("mean score 0.000 (95% CI", screen); // the summary after the bar
        Assert.DoesNotContain("afs eval: 12/12", screen);  // not the plain lines of a pipe
    }

    [Fact]
    public async Task Eval_UnreachableHost_ExitsUnavailable()
    {
        var port = DockerEngine.FreeLoopbackPort();
        var (exit, _, error) = await AfsAsync("eval", "--url", $"http://127.0.0.1:{port}", "--tasks", "1-3", "--store", Store, "--ready-timeout", "2");
        Assert.Equal(ExitCodes.Unavailable, exit);
        Assert.All(error.Trim().Split('\n'), line => Assert.StartsWith("afs eval: ", line));
        Assert.Contains("did not become ready within 2 s", error.Trim().Split('\n')[^1]);
    }

    [Fact]
    public async Task Eval_ActorRaisesOnEveryTask_EachIsAFailedResultOfTheRun_NotACrash()
    {
        var port = DockerEngine.FreeLoopbackPort();
        var (exit, output, error) = await AfsAsync("eval", "--url", _host.BaseUrl.ToString(), "--method", "fail", "--tasks", "1-5", "--store", Store,
            "--base-url", $"http://127.0.0.1:{port}/v1", "--model", "gone");
        Assert.True(exit == 0, error);
        Assert.Contains("model: gone at http://127.0.0.1:", output);
        Assert.Contains("5 failed", output);
        Assert.Matches(@"actor_error: 5 \(e\.g\. task 1: .*boom", output);
    }

    [Theory]
    [InlineData(new[] { "eval", "my-env:dev" }, "give the tasks to evaluate")]
    [InlineData(new[] { "eval", "my-env:dev", "--tasks", "9-2" }, "the range 9-2 ends before it starts")]
    [InlineData(new[] { "eval", "my-env:dev", "--tasks", "1-x" }, "'1-x' is not a task id")]
    [InlineData(new[] { "eval", "my-env:dev", "--tasks", "1", "--mode", "basilica", "--llm-public-url", "ftp://gw.example/v1" }, "--llm-public-url 'ftp://gw.example/v1' is not an http(s) URL")]
    [InlineData(new[] { "eval", "my-env:dev", "--tasks", "1", "--api-rate", "2" }, "--api-rate applies to --mode basilica")]
    [InlineData(new[] { "score", "/no/such/miners.json", "--tasks", "1", "--every", "10s" }, "--every 10s: give a minute to 7 days, e.g. 30m")]
    [InlineData(new[] { "eval", "my-env:dev", "--tasks", "1", "--mode", "url" }, "--mode url needs a URL")]
    [InlineData(new[] { "eval", "my-env:dev", "--tasks", "1", "--base-url", "nowhere" }, "--base-url 'nowhere' is not an http(s) URL")]
    [InlineData(new[] { "eval", "--url", "http://127.0.0.1:9", "--tasks", "1", "--replicas", "2" }, "--replicas applies to docker and basilica modes")]
    [InlineData(new[] { "eval", "--resume", "20990101-000000-abcd", "--tasks", "1" }, "--resume runs the stored run as it was started")]
    [InlineData(new[] { "eval", "--resume", "20990101-000000-abcd", "--concurrency", "4", "--no-cache" }, "; drop --concurrency, --no-cache")]
    [InlineData(new[] { "eval", "x:y", "--tasks", "1", "--retries", "101" }, "retries is 101; use 0 to 100")]
    [InlineData(new[] { "eval", "x:y", "--tasks", "1", "--method", " " }, "the method to evaluate is empty")]
    [InlineData(new[] { "eval", "/no/such/env-dir", "--tasks", "1" }, "there is no directory '/no/such/env-dir'; give an environment directory or an image")]
    [InlineData(new[] { "eval", "/etc/passwd", "--tasks", "1" }, "'/etc/passwd' is a file; give the environment's directory (/etc) or an image")]
    [InlineData(new[] { "validate", "./no-such-env", "--tasks", "1" }, "there is no directory './no-such-env'")]
    [InlineData(new[] { "run", ".", "--mode", "basilica" }, "a Basilica deployment pulls its image from a registry: build and push it first (afs build . --tag REGISTRY/NAME:TAG --push)")]
    [InlineData(new[] { "run", "./no-such-env" }, "there is no directory './no-such-env'")]
    [InlineData(new[] { "run", "http://127.0.0.1:9" }, "'http://127.0.0.1:9' is a URL, and afs run starts an image")]
    [InlineData(new[] { "eval", "--tasks", "1" }, "name what to evaluate")]
    [InlineData(new[] { "eval", "x:y", "--tasks", "1", "--timeout", "0" }, "--timeout 0 must be more than zero seconds")]
    [InlineData(new[] { "score", "/no/such/miners.json", "--tasks", "1" }, "cannot read the miners file /no/such/miners.json")]
    [InlineData(new[] { "validate", "x:y", "--tasks", "0" }, "--tasks 0: give how many tasks to check")]
    [InlineData(new[] { "validate", "x:y", "--score-range", "1" }, "--score-range '1' is not MIN,MAX")]
    public async Task BadInput_OneLineSayingHowToFix_Exit1(string[] args, string expected)
    {
        var (exit, output, error) = await AfsAsync(args[0] is "eval" or "score" ? [.. args, "--store", Store] : args);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Contains(expected, error);
        Assert.DoesNotContain("   at ", error);
    }

    [Theory]
    [InlineData("eval")]
    [InlineData("score")]
    public async Task EngineUnreachable_ExitsUnavailable_AndScoresNobody(string command)
    {
        var miners = Path.Combine(_work.FullName, "miners.json");
        await File.WriteAllTextAsync(miners, """{"1": "a:v1"}""");
        var port = DockerEngine.FreeLoopbackPort();
        var (exit, output, error) = await AfsAsync(command, command == "eval" ? "my-env:dev" : miners, "--tasks", "1-3", "--store", Store, "--host", $"tcp://127.0.0.1:{port}");
        Assert.Equal(5, exit);
        Assert.Equal("", output);
        Assert.Contains($"afs {command}: cannot reach the Docker engine at tcp://127.0.0.1:{port}: Connection refused", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Theory]
    [InlineData("eval")]
    [InlineData("score")]
    public async Task RunOptionsOutOfRange_FailBeforeAnythingIsBuiltOrStarted(string command)
    {
        // An environment directory that is not one: building it would fail with a detection error. The concurrency
        // must be refused first, and in afs score before any miner is evaluated (and scored zero) with it.
        var directory = _work.CreateSubdirectory("not-an-env");
        var miners = Path.Combine(_work.FullName, "miners.json");
        await File.WriteAllTextAsync(miners, """{"1": "a:v1"}""");
        var scores = Path.Combine(_work.FullName, "scores.json");
        var (exit, output, error) = await AfsAsync(command, command == "eval" ? directory.FullName : miners, "--tasks", "1-3", "--concurrency", "0",
            "--store", Store, "--out", scores);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal($"afs {command}: concurrency is 0; use 1 to 4096", error.Split('\n')[0]);
        Assert.DoesNotContain("building", error);
        Assert.False(File.Exists(scores));
        Assert.False(File.Exists(Store));
    }

    [Fact]
    public async Task Eval_ResumeOfUnknownRun_AndShowOfUnknownRun_SayWhatExists()
    {
        await (await ValidatorClient.Results.ResultStore.OpenAsync(Store)).DisposeAsync(); // an empty store
        var (exit, _, error) = await AfsAsync("eval", "--resume", "20990101-000000-abcd", "--store", Store);
        Assert.Equal(1, exit);
        Assert.Contains("has no run '20990101-000000-abcd'; afs runs lists", error);
        var (showExit, _, showError) = await AfsAsync("show", "nope", "--store", Store);
        Assert.Equal(1, showExit);
        Assert.Contains("has no run 'nope'", showError);
    }

    [Fact]
    public async Task ReadingCommands_OnAStoreThatIsNotThere_SaySo_AndCreateNothing()
    {
        var missing = Path.Combine(_work.FullName, "typo", "results.db");
        var (resumeExit, _, resumeError) = await AfsAsync("eval", "--resume", "20990101-000000-abcd", "--store", missing);
        var (showExit, _, showError) = await AfsAsync("show", "20990101-000000-abcd", "--store", missing);
        Assert.Equal((1, 1), (resumeExit, showExit));
        Assert.All(new[] { resumeError, showError }, e => Assert.Contains($"there is no results store at {missing}: afs eval writes one there, or give --store FILE", e));
        var (runsExit, runsOutput, _) = await AfsAsync("runs", "--store", missing);
        Assert.Equal(0, runsExit);
        Assert.Equal($"no runs: there is no results store at {missing} yet; afs eval makes one", runsOutput.Trim());
        var (jsonExit, jsonOutput, _) = await AfsAsync("runs", "--store", missing, "--json");
        Assert.Equal((0, "[]"), (jsonExit, jsonOutput.Trim()));
        Assert.False(Directory.Exists(Path.GetDirectoryName(missing)), "a reading command makes no store and no directory");
    }

    [Fact]
    public async Task Runs_StoreThatIsNotAStore_SaysSo()
    {
        var notAStore = Path.Combine(_work.FullName, "notes.txt");
        await File.WriteAllTextAsync(notAStore, new string('x', 4096));
        var (exit, _, error) = await AfsAsync("runs", "--store", notAStore);
        Assert.Equal(1, exit);
        Assert.Contains("cannot be used as a results store", error);
    }

    [Fact]
    public async Task Score_MinersFileNotAnObjectOfImages_SaysTheShape()
    {
        var miners = Path.Combine(_work.FullName, "miners.json");
        await File.WriteAllTextAsync(miners, """{"1": 42}""");
        var (exit, _, error) = await AfsAsync("score", miners, "--tasks", "1", "--store", Store);
        Assert.Equal(1, exit);
        Assert.Contains("miner '1' must map to an image reference", error);
    }

    [Fact]
    public async Task BaselineServe_AnswersChatCompletionsUntilCancelled()
    {
        using var stop = new CancellationTokenSource();
        var output = new ConcurrentStringWriter();
        var error = new ConcurrentStringWriter();
        var serving = AfsCli.RunAsync(["baseline", "serve", "--port", "0", "--json"], new InvocationConfiguration { Output = output, Error = error }, stop.Token);
        await Bounded.Until(() => Task.FromResult(output.ToString().Contains("base_url", StringComparison.Ordinal)), TimeSpan.FromSeconds(30), "the baseline's address");
        var baseUrl = JsonDocument.Parse(output.ToString()).RootElement.GetProperty("base_url").GetString()!;
        using var http = new HttpClient();
        using var response = await http.PostAsJsonAsync(baseUrl.TrimEnd('/') + "/chat/completions", new
        {
            model = "anything",
            messages = new[] { new { role = "user", content = "Ada has 10 coins. A friend gives Ada 5 more coins. How many coins does Ada have now?" } },
        }).Within(what: "a chat completion");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(BaselineModel.Name, body.GetProperty("model").GetString());
        Assert.EndsWith("Answer: 15", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!.Trim());
        await stop.CancelAsync();
        Assert.Equal(130, await serving.Within(what: "afs baseline serve to stop"));
    }

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [Theory]
    [InlineData("1-3,7,5-6,3", new long[] { 1, 2, 3, 7, 5, 6 }, "1-3,5-7")]
    [InlineData("42", new long[] { 42 }, "42")]
    [InlineData(" 10 - 12 , 0", new long[] { 10, 11, 12, 0 }, "0,10-12")]
    [Trait(Tiers.Name, Tiers.Unit)]
    public void TaskIds_ParseRangesInOrder_WithoutRepeats(string text, long[] expected, string formatted)
    {
        Assert.True(TaskIds.TryParse(text, out var ids, out var error), error);
        Assert.Equal(expected, ids);
        Assert.Equal(formatted, TaskIds.Format(ids));
    }

    [Theory]
    [InlineData("1,", "the list ends with a comma")]
    [InlineData(",", "the list starts with a comma")]
    [InlineData(",1", "the list starts with a comma")]
    [InlineData("1,,2", "item 2 between two commas is empty")]
    [InlineData("", "no task ids")]
    [InlineData("-", "'-' is not a task id or a range FROM-TO")]
    [InlineData("1-", "'1-' is not a task id or a range FROM-TO")]
    [Trait(Tiers.Name, Tiers.Unit)]
    public void TaskIds_Malformed_SayWhatIsWrong(string text, string expected)
    {
        Assert.False(TaskIds.TryParse(text, out _, out var error));
        Assert.StartsWith(expected, error);
    }

    [Theory]
    [InlineData("eval")]
    [InlineData("score")]
    public async Task MalformedTaskList_IsAUsageError_NotACrash(string command)
    {
        var miners = Path.Combine(_work.FullName, "miners.json");
        File.WriteAllText(miners, """{"1": "registry.invalid/miner:v1"}""");
        string[] args = command == "eval" ? ["eval", "--url", _host.BaseUrl.ToString(), "--tasks", "1,", "--store", Store] : ["score", miners, "--tasks", "1,,2", "--store", Store];
        var (exit, output, error) = await AfsAsync(args);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.StartsWith($"afs {command}: --tasks '{(command == "eval" ? "1," : "1,,2")}': ", error);
        Assert.DoesNotContain("Exception", error);
        Assert.Equal(0, _host.Calls);
    }

    /// <summary>
    /// A result holding half a surrogate pair (valid JSON, not valid text) is kept with U+FFFD in its place: every
    /// JSON line is written, the summary printed, and afs show reads it back.
    /// </summary>
    [Fact]
    public async Task LoneSurrogateInResults_IsRepaired_EveryLineAndTheSummaryAreWritten()
    {
        var jsonl = Path.Combine(_work.FullName, "surrogate.jsonl");
        var (exit, output, error) = await AfsAsync("eval", "--url", _host.BaseUrl.ToString(), "--method", "surrogate", "--tasks", "1-20", "--store", Store, "--out", jsonl);
        Assert.True(exit == 0, error);
        Assert.Contains("mean score 0.500", output);
        Assert.Contains("results that report an error: 20 (e.g. task 1: bad \ufffd text)", output);
        var lines = JsonLines(jsonl);
        Assert.Equal(20, lines.Count);
        Assert.All(lines, l => Assert.Equal("a\ufffdb", l.GetProperty("result").GetProperty("text").GetString()));

        var run = lines[0].GetProperty("run").GetString()!;
        var (showExit, showOutput, showError) = await AfsAsync("show", run, "--store", Store, "--json");
        Assert.True(showExit == 0, showError);
        Assert.Equal(20, JsonDocument.Parse(showOutput).RootElement.GetProperty("tasks").GetArrayLength());
    }
}
