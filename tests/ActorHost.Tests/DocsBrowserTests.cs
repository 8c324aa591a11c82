using System.Net.Http.Headers;
using System.Text.Json;
using Affinetes.Testing;
using OpenQA.Selenium;

namespace Affinetes.ActorHost.Tests;

/// <summary>
/// <c>/docs</c> in headless Chromium: a host process with auth on (the token typed in, a form filled and called by
/// keyboard, a wrong type shown as the host's 400), and the C# and sidecar kinds listing their method tables.
/// Screenshots: <c>artifacts/browser/docs-*.png</c>.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
[Trait("Browser", "true")]
public sealed class DocsBrowserTests
{
    private const string Token = "docs-page-token-7";

    private static async Task<List<string>> MethodNamesAsync(HttpClient client, string? token = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/methods");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        using var response = await client.SendAsync(request).Within();
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return [.. document.RootElement.GetProperty("methods").EnumerateArray().Select(m => m.GetProperty("name").GetString()!)];
    }

    /// <summary>Only the deliberate bad call may have logged an error: Chromium logs every non-2xx answer it fetched.</summary>
    private static bool IsTheDeliberate400(string message) =>
        message.Contains("/call", StringComparison.Ordinal) && message.Contains("status of 400", StringComparison.Ordinal);

    [Fact]
    public async Task Docs_WithAuth_TokenByKeyboard_FormCallShowsResult_WrongTypeShows400()
    {
        await using var host = HostProcess.Start(new Dictionary<string, string>
        {
            ["AFFINETES_ENV_FILE"] = HostUnderTest.EnvPath("protocol_env.py"),
            ["AFFINETES_AUTH_TOKEN"] = Token,
            ["AFFINETES_STRICT_TYPES"] = "true",
        });
        await host.WaitReadyAsync();
        var expected = await MethodNamesAsync(host.Client, Token);

        using var browser = Browser.Start(1280, 800);
        var docs = new DocsPageDriver(browser, host.Client.BaseAddress!);
        docs.Open();
        Assert.Contains("requires a bearer token", docs.Notice, StringComparison.Ordinal);
        Assert.Empty(docs.Methods);
        browser.Screenshot("docs-auth-required-1280");

        // Keyboard only: the token field is the first stop, the load button the next.
        browser.Press(Keys.Tab);
        Assert.Equal("token", browser.Focused.GetAttribute("id"));
        browser.Press(Token);
        browser.Press(Keys.Tab);
        Assert.Equal("load", browser.Focused.GetAttribute("id"));
        browser.Press(Keys.Enter);
        docs.WaitForMethods(expected.Count);
        Assert.Equal(expected, docs.Methods);

        // The docstring, the signature and the parameters' types and defaults are shown.
        var echo = docs.Section("echo");
        Assert.Contains("Returns its arguments.", echo.Text, StringComparison.Ordinal);
        Assert.Contains("integer, required", echo.Text, StringComparison.Ordinal);
        Assert.Contains("string, default \"hi\"", echo.Text, StringComparison.Ordinal);

        // Fill the form and submit it with Enter in a field.
        docs.Fill("echo", "x", "41");
        docs.Fill("echo", "text", "from the page");
        browser.Press(Keys.Enter);
        var (status, text) = docs.WaitForAnswer("echo");
        Assert.Equal("200", status);
        Assert.Matches(@"200 OK · \d+(\.\d)? ms", text);
        Assert.Contains("\"x\": 41", text, StringComparison.Ordinal);
        Assert.Contains("\"text\": \"from the page\"", text, StringComparison.Ordinal);
        var curl = docs.Curl("echo");
        Assert.Contains("{\"method\":\"echo\",\"kwargs\":{\"x\":41,\"text\":\"from the page\"}}", curl, StringComparison.Ordinal);
        Assert.Contains("$AFFINETES_AUTH_TOKEN", curl, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, curl, StringComparison.Ordinal);

        // A wrong type: the host's 400 with its code and the parameter at fault.
        docs.Fill("echo", "x", "forty-one");
        (status, text) = docs.Call("echo");
        Assert.Equal("400", status);
        Assert.Contains("invalid_arguments", text, StringComparison.Ordinal);
        Assert.Contains("parameter: x", text, StringComparison.Ordinal);
        Assert.Equal("invalid_arguments", docs.Section("echo").FindElement(By.CssSelector("pre.error")).GetAttribute("data-code"));
        browser.Screenshot("docs-python-1280");

        // Every control can be reached with Tab (none taken out of the order), and Tab does reach the call buttons.
        Assert.Equal(0L, browser.Script("return [...document.querySelectorAll('a, button, input, select, textarea')].filter(e => e.tabIndex < 0 || e.disabled).length"));
        browser.Script("document.getElementById('load').focus()");
        var reached = new List<string>();
        for (var i = 0; i < 150 && !reached.Contains("call:echo"); i++)
        {
            browser.Press(Keys.Tab);
            var focused = browser.Focused;
            reached.Add(focused.GetAttribute("data-call") is { } call ? "call:" + call : focused.TagName);
        }
        Assert.Contains("call:echo", reached);

        // A narrow window: one column, nothing wider than the window.
        browser.Resize(900, 800);
        Assert.True(browser.FitsWidth(), "the page is wider than a 900 px window");
        browser.Script("arguments[0].scrollIntoView()", docs.Section("echo"));
        browser.Screenshot("docs-python-900");

        Assert.Empty(browser.Errors(IsTheDeliberate400));
    }

    [Fact]
    public async Task Docs_CSharpAndSidecarKinds_ListTheirMethodTables_AndCall()
    {
        await using var csharp = await HostUnderTest.StartAsync("csharp/csharp-arith/Actor.cs");
        await using var sidecar = await HostUnderTest.StartAsync("sidecar_server.py", o => o with
        {
            SidecarCommand = ["python3", HostUnderTest.EnvPath("sidecar_server.py"), "--openapi"],
        });
        using var browser = Browser.Start(1280, 800);

        var docs = new DocsPageDriver(browser, csharp.Address);
        docs.Open();
        Assert.Equal(await MethodNamesAsync(csharp.Client), docs.Methods);
        docs.Fill("generate", "task_id", "3");
        var (status, text) = docs.Call("generate");
        Assert.Equal("200", status);
        Assert.Contains("\"task_id\": 3", text, StringComparison.Ordinal);
        browser.Screenshot("docs-csharp-1280");

        docs = new DocsPageDriver(browser, sidecar.Address);
        docs.Open();
        Assert.Equal(await MethodNamesAsync(sidecar.Client), docs.Methods);
        docs.Fill("echo", "x", "5");
        (status, text) = docs.Call("echo");
        Assert.Equal("200", status);
        Assert.Contains("\"x\": 5", text, StringComparison.Ordinal);
        browser.Screenshot("docs-sidecar-1280");

        Assert.Empty(browser.Errors());
    }
}
