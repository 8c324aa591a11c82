using System.Text.RegularExpressions;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary><c>/docs</c> of an environment running in a real container (python-arith, started by afs run with a token and strict types), in headless Chromium.</summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Trait("Browser", "true")]
[Collection(AfsEnvironmentCollection.Name)]
public sealed class DocsDockerTests(AfsEnvironmentFixture fixture)
{
    [Fact]
    public async Task Docs_OfARunningContainer_WithAuth_CallsGenerate_AndShowsAWrongTypeAs400()
    {
        var name = fixture.NewName("docs");
        const string token = "container-docs-token";
        var (runExit, runOutput, runError) = await AfsEnvironmentFixture.AfsAsync("run", fixture.Image, "--name", name, "--auth-token", token, "--env", "AFFINETES_STRICT_TYPES=true");
        try
        {
            Assert.True(runExit == 0, runError);
            var address = Regex.Match(runOutput, @"127\.0\.0\.1:\d+").Value;
            Assert.NotEmpty(address);

            using var browser = Browser.Start(1280, 800);
            var docs = new DocsPageDriver(browser, new Uri($"http://{address}"));
            docs.Open();
            Assert.Contains("requires a bearer token", docs.Notice, StringComparison.Ordinal);
            browser.Driver.FindElement(OpenQA.Selenium.By.Id("token")).SendKeys(token);
            browser.Driver.FindElement(OpenQA.Selenium.By.Id("load")).Click();
            docs.WaitForMethods(2);
            Assert.Equal(["evaluate", "generate"], docs.Methods.Order(StringComparer.Ordinal));

            docs.Fill("generate", "task_id", "1");
            var (status, text) = docs.Call("generate");
            Assert.Equal("200", status);
            Assert.Contains("\"task_id\": 1", text, StringComparison.Ordinal);
            Assert.Contains("\"prompt\": ", text, StringComparison.Ordinal);
            browser.Screenshot("docs-container-1280");

            // With strict types on, a string for task_id is the host's 400, naming the parameter.
            docs.Fill("generate", "task_id", "one");
            (status, text) = docs.Call("generate");
            Assert.Equal("400", status);
            Assert.Contains("invalid_arguments", text, StringComparison.Ordinal);
            Assert.Contains("parameter: task_id", text, StringComparison.Ordinal);
            Assert.Empty(browser.Errors(m => m.Contains("/call", StringComparison.Ordinal) && m.Contains("status of 400", StringComparison.Ordinal)));
        }
        finally
        {
            await AfsEnvironmentFixture.AfsAsync("stop", name);
        }
    }
}
