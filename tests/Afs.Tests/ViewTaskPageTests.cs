using Affinetes.Testing;
using OpenQA.Selenium;

namespace Affinetes.Afs.Tests;

/// <summary>
/// A task's page in headless Chromium: the conversation its environment had with the model through the LLM gateway
/// (the second reply streamed and assembled), the result beside it with its text as text, previous and next; an
/// episode's steps as turns. Screenshots: <c>artifacts/browser/view-task-*.png</c>.
/// </summary>
[Trait(Tiers.Name, Tiers.Host)]
[Trait("Browser", "true")]
[Collection(ViewCollection.Name)]
public sealed class ViewTaskPageTests(ViewFixture fixture)
{
    [Fact]
    public void TaskPage_ShowsTheConversationThroughTheGateway_StreamedReplyAssembled_ResultTextAsText_PreviousAndNext()
    {
        using var browser = Browser.Start(1280, 1000);
        browser.Open(new Uri(fixture.Url, $"/runs/{fixture.Chat.Id}/tasks/2").ToString());
        var conversation = browser.WaitFor(By.Id("conversation"), "the conversation");

        var exchanges = conversation.FindElements(By.CssSelector("article.exchange"));
        Assert.Equal(2, exchanges.Count);
        var first = exchanges[0];
        Assert.Equal("You are a careful assistant.\nName the task you are given.", first.FindElement(By.CssSelector(".msg.system .text")).Text);
        Assert.Equal("Task 2: which task is this?", first.FindElement(By.CssSelector(".msg.user .text")).Text);
        Assert.Equal("Task 2, as asked.\nAnswer: Task 2", first.FindElement(By.CssSelector(".msg.assistant .text")).Text);
        var head = first.FindElement(By.CssSelector(".exchange-head")).Text;
        Assert.Contains("local-chat-model", head, StringComparison.Ordinal);
        Assert.Contains("24+6 tokens", head, StringComparison.Ordinal);
        Assert.Matches(@"\d+ ms", head);
        var second = exchanges[1];
        Assert.Contains("streamed", second.FindElement(By.CssSelector(".exchange-head")).Text, StringComparison.Ordinal);
        Assert.Contains("3 earlier messages", second.FindElement(By.CssSelector(".resent")).Text, StringComparison.Ordinal);
        Assert.Equal(["Say it once more."], second.FindElements(By.CssSelector(".msg.user .text")).Select(e => e.Text));
        Assert.Equal("Task 2, as asked.\nAnswer: Task 2", second.FindElement(By.CssSelector(".msg.assistant .text")).Text); // assembled from its chunks
        Assert.Empty(second.FindElements(By.CssSelector(".msg.system"))); // the history is not repeated
        Assert.NotNull(second.FindElement(By.CssSelector("details.reasoning")));

        // The result beside it: its text fields as text, newlines real (not "\n").
        var result = browser.Driver.FindElement(By.Id("result-fields"));
        var note = result.FindElement(By.XPath("//dt[@data-field='note']/following-sibling::dd[1]"));
        Assert.Equal("two lines:\nfirst and second", note.Text);
        Assert.DoesNotContain("\\n", result.Text, StringComparison.Ordinal);
        var conversationBox = conversation.Location.X;
        Assert.True(result.Location.X > conversationBox + 300, "the result is beside the conversation at 1280 px");
        browser.Screenshot("view-task-conversation-1280");

        // Previous and next, by task id.
        browser.Driver.FindElement(By.Id("next-task")).Click();
        browser.Until(d => d.Url.EndsWith("/tasks/3", StringComparison.Ordinal), "the next task");
        Assert.Equal("Task 3: which task is this?", browser.WaitFor(By.CssSelector("#conversation .msg.user .text"), "task 3's question").Text);
        browser.Driver.FindElement(By.Id("previous-task")).Click();
        browser.Until(d => d.Url.EndsWith("/tasks/2", StringComparison.Ordinal), "back to task 2");
        browser.Open(new Uri(fixture.Url, $"/runs/{fixture.Chat.Id}/tasks/1").ToString());
        browser.WaitFor(By.Id("conversation"), "task 1");
        Assert.Empty(browser.Driver.FindElements(By.Id("previous-task")));

        // A narrow window: the result goes under the conversation, nothing is wider than the window.
        browser.Resize(900, 900);
        Assert.True(browser.FitsWidth(), "the task page is wider than a 900 px window");
        Assert.Empty(browser.Errors());
    }

    [Fact]
    public async Task TaskPage_AnEpisode_EachStepAsATurn_ObservationActionReward()
    {
        await using var seeded = await SeededStore.CreateAsync();
        seeded.AddRun("episodes-1", 1, [SeededStore.Result(1, 0.5, value: SeededStore.Episode(1))]);
        await using var view = await AfsViewServer.StartAsync(seeded.Path);
        using var browser = Browser.Start(1280, 900);

        browser.Open(new Uri(view.Url, "/runs/episodes-1/tasks/1").ToString());
        var conversation = browser.WaitFor(By.Id("conversation"), "the episode");

        Assert.Contains("Episode (2 steps, stopped: done)", conversation.FindElement(By.TagName("h2")).Text, StringComparison.Ordinal);
        var steps = conversation.FindElements(By.CssSelector("article.step"));
        Assert.Equal(["0", "1", "2"], steps.Select(s => s.GetAttribute("data-step")!));
        Assert.Equal("You are in a maze.\nExits: north.", steps[0].FindElement(By.CssSelector(".msg.observation .text")).Text);
        Assert.Equal("go north", steps[1].FindElement(By.CssSelector(".msg.action .text")).Text);
        Assert.Equal("A wall.\nExits: east.", steps[1].FindElement(By.CssSelector(".msg.observation .text")).Text);
        Assert.Contains("reward 0.5", steps[1].FindElement(By.CssSelector(".exchange-head")).Text, StringComparison.Ordinal);
        Assert.Contains("reward 1 · done", steps[2].FindElement(By.CssSelector(".exchange-head")).Text, StringComparison.Ordinal);
        Assert.Contains("2 steps, shown as the episode", browser.Driver.FindElement(By.Id("result-fields")).Text, StringComparison.Ordinal);
        browser.Screenshot("view-task-episode-1280");
        Assert.Empty(browser.Errors());
    }
}
