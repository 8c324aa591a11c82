using OpenQA.Selenium;

namespace Affinetes.Testing;

/// <summary>What a person does on a host's <c>/docs</c> page, in a <see cref="Browser"/>: every step waits, bounded.</summary>
public sealed class DocsPageDriver(Browser browser, Uri host)
{
    public Browser Browser { get; } = browser;

    /// <summary>Opens <c>/docs</c> and waits until the page has said something (methods listed, or the token asked for).</summary>
    public void Open()
    {
        Browser.Open(new Uri(host, "/docs").ToString());
        Browser.Until(d => d.FindElements(By.CssSelector("section.method")).Count > 0 || d.FindElement(By.Id("notice")).Text.Length > 0,
            "/docs listing methods or saying why not");
    }

    public string Notice => Browser.Driver.FindElement(By.Id("notice")).Text;

    /// <summary>The methods the page lists, in its order.</summary>
    public IReadOnlyList<string> Methods =>
        [.. Browser.Driver.FindElements(By.CssSelector("section.method")).Select(s => s.GetAttribute("data-method")!)];

    /// <summary>Waits until the page lists <paramref name="count"/> methods.</summary>
    public void WaitForMethods(int count) =>
        Browser.Until(d => d.FindElements(By.CssSelector("section.method")).Count == count, $"/docs listing {count} methods");

    public IWebElement Section(string method) => Browser.WaitFor(By.CssSelector($"section.method[data-method='{method}']"), $"the section of {method}");

    public IWebElement Field(string method, string parameter) =>
        Section(method).FindElement(By.CssSelector($"[data-param='{parameter}']"));

    /// <summary>Replaces the text of a parameter's field.</summary>
    public void Fill(string method, string parameter, string value)
    {
        var field = Field(method, parameter);
        field.Clear();
        field.SendKeys(value);
    }

    /// <summary>Clicks the method's call button and waits for the answer; returns the HTTP status shown and the answer's text.</summary>
    public (string Status, string Text) Call(string method)
    {
        Section(method).FindElement(By.CssSelector($"button[data-call='{method}']")).Click();
        return WaitForAnswer(method);
    }

    /// <summary>Waits until the method's result area shows an answer (not "calling…").</summary>
    public (string Status, string Text) WaitForAnswer(string method)
    {
        var result = Section(method).FindElement(By.CssSelector("[data-result]"));
        var status = Browser.Until(_ => result.GetAttribute("data-status") is { } s && s != "pending" ? s : null, $"the answer of {method}");
        return (status, result.Text);
    }

    /// <summary>The curl command the page shows for the method's current form.</summary>
    public string Curl(string method) => (string)Browser.Script("return arguments[0].textContent", Section(method).FindElement(By.CssSelector("[data-curl]")))!;
}
