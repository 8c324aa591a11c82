// Every parameter and return shape the C# runtime serves, and members that must never be callable.
using System.ComponentModel;

public enum Mode { Fast, Careful }

public record Point(int X, int Y);

public sealed class Settings
{
    public string Name { get; set; } = "";
    public int RetryCount { get; set; }
    public List<string> Tags { get; set; } = [];
}

public class Base
{
    public string Inherited() => "from base";
}

public class Actor : Base, IDisposable
{
    private static volatile bool s_cancelled;

    public int Counter { get; set; } = 5;

    public static int StaticMethod() => 1;

    private int Secret() => 42;

    internal int Internal() => 1;

    [Description("Echoes its arguments.")]
    public object Echo(int x, string text = "hi") => new { x, text };

    public object Primitives(int i, long l, double d, bool b, string s, float f = 1.5f, decimal m = 2.5m, char c = 'z') => new { i, l, d, b, s, f, m, c };

    public Mode Flip(Mode mode) => mode == Mode.Fast ? Mode.Careful : Mode.Fast;

    public int Sum(int[] values) => values.Sum();

    public List<string> Upper(List<string> words) => [.. words.Select(w => w.ToUpperInvariant())];

    public Dictionary<string, int> Increment(Dictionary<string, int> counts) => counts.ToDictionary(kv => kv.Key, kv => kv.Value + 1);

    public Point Move(Point point, int dx = 1) => point with { X = point.X + dx };

    public Settings Configure(Settings settings) => settings;

    public object Optional(int? maybe = null, string? label = null, int count = 3) => new { maybe, label, count };

    public string Required(string text) => text;

    public void Nothing() { }

    public Task Later() => Task.Delay(1);

    public async Task<int> Doubled(int x)
    {
        await Task.Yield();
        return x * 2;
    }

    public ValueTask<string> Shout(string s) => ValueTask.FromResult(s + "!");

    public object Anonymous() => new { TaskId = 1, Items = new[] { 1, 2 } };

    public JsonNode Node() => new JsonObject { ["a"] = 1, ["b"] = new JsonArray(true, null) };

    public JsonElement Element() => JsonDocument.Parse("[1,\"x\"]").RootElement.Clone();

    public double Whole() => 3;

    public async Task<string> Wait(int ms, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(ms, cancellationToken);
            return "done";
        }
        catch (OperationCanceledException)
        {
            s_cancelled = true;
            throw;
        }
    }

    public string WasCancelled() => s_cancelled ? "yes" : "no";

    public async Task<string> IgnoresToken(int ms)
    {
        await Task.Delay(ms);
        return "done";
    }

    public int Fail(string message) => throw new ArgumentException(message);

    public double NotJson() => double.NaN;

    public object Extra(int a, [ExtraArguments] IReadOnlyDictionary<string, JsonElement> rest) => new { a, rest = rest.Keys.Order().ToList() };

    public void Dispose() { }

    public override string ToString() => "actor";
}
