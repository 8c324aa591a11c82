using System.Drawing;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace Affinetes.Testing;

/// <summary>
/// Headless Chromium driven through chromedriver (Debian's <c>chromium</c> and <c>chromium-driver</c>, installed by
/// <c>scripts/setup-browser.sh</c>), for the tests of the web pages. Every wait is bounded; the browser's log is
/// collected so that a test can assert the page logged no error; screenshots go to <c>artifacts/browser/</c>.
/// </summary>
public sealed class Browser : IDisposable
{
    /// <summary>The longest any single wait for the page may take.</summary>
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);

    private readonly List<LogEntry> _log = [];

    private Browser(ChromeDriver driver) => Driver = driver;

    public ChromeDriver Driver { get; }

    /// <summary>Starts Chromium headless with a <paramref name="width"/> x <paramref name="height"/> window.</summary>
    public static Browser Start(int width = 1280, int height = 800)
    {
        var chromium = Environment.GetEnvironmentVariable("AFFINETES_CHROMIUM") ?? "/usr/bin/chromium";
        var chromedriver = Environment.GetEnvironmentVariable("AFFINETES_CHROMEDRIVER") ?? "/usr/bin/chromedriver";
        if (!File.Exists(chromium) || !File.Exists(chromedriver))
        {
            throw new InvalidOperationException($"{chromium} or {chromedriver} is missing: run scripts/setup-browser.sh (Debian's chromium and chromium-driver)");
        }
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(chromedriver)!, Path.GetFileName(chromedriver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = chromium };
        // Headless, no sandbox (root in CI), and none of the browser's own traffic (updates, sync, metrics): the
        // tests talk only to 127.0.0.1.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", $"--window-size={width},{height}",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps", "--disable-domain-reliability", "--no-pings", "--metrics-recording-only", "--mute-audio");
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        driver.Manage().Timeouts().PageLoad = WaitLimit;
        driver.Manage().Timeouts().AsynchronousJavaScript = WaitLimit;
        driver.Manage().Timeouts().ImplicitWait = TimeSpan.Zero;
        return new Browser(driver);
    }

    public void Open(string url) => Driver.Navigate().GoToUrl(url);

    /// <summary>Sets the window's size (the page's layout width follows it).</summary>
    public void Resize(int width, int height) => Driver.Manage().Window.Size = new Size(width, height);

    /// <summary>The first displayed element matching <paramref name="by"/>, waited for at most <see cref="WaitLimit"/>.</summary>
    public IWebElement WaitFor(By by, string what) => Until(d => d.FindElements(by).FirstOrDefault(e => e.Displayed), what);

    /// <summary>Waits, bounded, until <paramref name="condition"/> returns a non-null value, and returns it.</summary>
    public T Until<T>(Func<IWebDriver, T?> condition, string what)
        where T : class
    {
        var wait = new WebDriverWait(Driver, WaitLimit) { PollingInterval = TimeSpan.FromMilliseconds(50), Message = $"{what} (within {WaitLimit.TotalSeconds:0} s)" };
        wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException));
        return wait.Until(d => condition(d))!;
    }

    /// <summary>Waits, bounded, until <paramref name="condition"/> holds.</summary>
    public void Until(Func<IWebDriver, bool> condition, string what) => Until(d => condition(d) ? "yes" : null, what);

    public object? Script(string script, params object[] args) => Driver.ExecuteScript(script, args);

    /// <summary>Types <paramref name="keys"/> (text or <see cref="Keys"/>) into whatever has the focus, as a person would.</summary>
    public void Press(string keys) => new OpenQA.Selenium.Interactions.Actions(Driver).SendKeys(keys).Perform();

    /// <summary>The element that has the keyboard focus.</summary>
    public IWebElement Focused => Driver.SwitchTo().ActiveElement();

    /// <summary>True when the page is no wider than the window (no horizontal scrolling).</summary>
    public bool FitsWidth() => (bool)Script("return document.documentElement.scrollWidth <= window.innerWidth")!;

    /// <summary>Saves a PNG of the window as <c>artifacts/browser/NAME.png</c>; returns its path.</summary>
    public string Screenshot(string name)
    {
        var directory = Path.Combine(Artifacts.Root, "browser");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name + ".png");
        Driver.GetScreenshot().SaveAsFile(path);
        return path;
    }

    /// <summary>Everything the browser logged so far (console messages, script errors, failed loads).</summary>
    public IReadOnlyList<LogEntry> Log()
    {
        _log.AddRange(Driver.Manage().Logs.GetLog(LogType.Browser));
        return _log;
    }

    /// <summary>The logged errors (level SEVERE), as text, but those <paramref name="expected"/> accepts.</summary>
    public IReadOnlyList<string> Errors(Func<string, bool>? expected = null) =>
        [.. Log().Where(e => e.Level == LogLevel.Severe).Select(e => e.Message).Where(m => expected is null || !expected(m))];

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
    }
}

/// <summary>Where tests keep what they produce for people to look at (screenshots): <c>artifacts/</c> of the checkout.</summary>
public static class Artifacts
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Affinetes.sln")))
            {
                return Path.Combine(directory.FullName, "artifacts");
            }
        }
        return Path.Combine(AppContext.BaseDirectory, "artifacts");
    }
}
