// csharp-arith: the C# twin of python-arith. The same (task_id, seed) gives the same word problem and answer (Python's
// random.Random is reproduced exactly below), the model is asked through the official OpenAI .NET SDK, and the result
// has the same fields.
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using OpenAI.Chat;

/// <summary>A problem: its text and the integer answer.</summary>
public record Problem(int TaskId, int Seed, string Prompt, long Expected);

public class Actor
{
    private const string SystemPrompt =
        "You are a careful mathematician. Solve the problem step by step, then give the final answer "
        + "as a single integer on the last line in the form 'Answer: N'.";

    [Description("The problem for (task_id, seed) and its answer, without calling any model.")]
    public Problem Generate(int taskId, int seed = 0)
    {
        var (prompt, expected) = Problems.Make(taskId, seed);
        return new Problem(taskId, seed, prompt, expected);
    }

    [Description("Asks `model` at `base_url` to solve problem (task_id, seed); score 1.0 if its integer answer is right. "
        + "Failures of the model side (no API key, HTTP error, timeout, unparsable reply) do not raise: the result has "
        + "score 0.0, success false and an `error` message.")]
    public async Task<Dictionary<string, object?>> Evaluate(
        int taskId,
        string model = "deepseek-ai/DeepSeek-V3",
        string baseUrl = "https://llm.chutes.ai/v1",
        double timeout = 120,
        int seed = 0,
        [ExtraArguments] IReadOnlyDictionary<string, JsonElement>? kwargs = null,
        CancellationToken cancellationToken = default)
    {
        var problem = Generate(taskId, seed);
        var result = new Dictionary<string, object?>
        {
            ["task_id"] = taskId,
            ["seed"] = seed,
            ["score"] = 0.0,
            ["success"] = false,
            ["model"] = model,
            ["prompt"] = problem.Prompt,
            ["expected"] = problem.Expected,
            ["answer"] = null,
            ["latency_ms"] = 0L,
        };
        if (Llm.ApiKey is null)
        {
            result["error"] = "CHUTES_API_KEY is not set in the environment";
            return result;
        }

        var url = baseUrl.TrimEnd('/') + "/chat/completions";
        var clock = Stopwatch.StartNew();
        try
        {
            var chat = Llm.Chat(model, baseUrl, TimeSpan.FromSeconds(timeout), maxRetries: 0);
            ChatCompletion completion = await chat.CompleteChatAsync(
                [new SystemChatMessage(SystemPrompt), new UserChatMessage(problem.Prompt)],
                new ChatCompletionOptions { Temperature = 0 },
                cancellationToken);
            var reply = completion.Content.Count == 0 ? null
                : string.Concat(completion.Content.Where(p => p.Kind == OpenAI.Chat.ChatMessageContentPartKind.Text).Select(p => p.Text));
            var answer = Answers.Parse(reply);
            result["answer"] = answer;
            result["response"] = reply;
            if (answer is null)
            {
                result["error"] = "no integer answer found in the model's reply";
            }
            else
            {
                result["success"] = true;
                result["score"] = answer == problem.Expected ? 1.0 : 0.0;
            }
        }
        catch (System.ClientModel.ClientResultException e) when (e.Status != 0)
        {
            result["error"] = $"HTTP {e.Status} from the LLM endpoint: {ErrorMessage(e)}";
        }
        catch (Exception e) when (e is TimeoutException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            result["error"] = $"the LLM endpoint did not answer within {timeout.ToString(CultureInfo.InvariantCulture)} s";
        }
        catch (Exception e) when (e is System.ClientModel.ClientResultException or HttpRequestException)
        {
            result["error"] = $"cannot reach the LLM endpoint {url}: {(e.InnerException ?? e).Message}";
        }
        catch (Exception e) when (e is not OperationCanceledException) // a model-side failure never fails the evaluation
        {
            result["error"] = $"bad response from the LLM endpoint: {e.GetType().Name}: {e.Message}";
        }
        result["latency_ms"] = (long)Math.Round(clock.Elapsed.TotalMilliseconds, MidpointRounding.ToEven);
        return result;
    }

    /// <summary>OpenAI's <c>{"error": {"message": ...}}</c> from the failed response, else its text.</summary>
    private static string ErrorMessage(System.ClientModel.ClientResultException e)
    {
        var body = e.GetRawResponse()?.Content?.ToString() ?? "";
        try
        {
            if (JsonNode.Parse(body)?["error"]?["message"]?.GetValue<string>() is { Length: > 0 } message)
            {
                return message;
            }
        }
        catch (JsonException)
        {
        }
        return body.Length > 0 ? body.Trim() : e.Message;
    }
}

/// <summary>The word problems, drawn exactly as python-arith draws them.</summary>
public static class Problems
{
    private static readonly string[] Names = ["Ada", "Bilal", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana", "Ines", "Jonas", "Kofi", "Lena"];
    private static readonly string[] Items = ["apples", "marbles", "stickers", "coins", "books", "pencils", "shells", "stamps", "cards", "beads"];
    private static readonly string[] Containers = ["boxes", "bags", "crates", "jars", "baskets"];
    private static readonly string[] Operations = ["add", "sub", "mul", "div", "groups"];

    public static (string Prompt, long Answer) Make(int taskId, int seed)
    {
        var rng = new PythonRandom($"{seed}:{taskId}");
        var name = rng.Choice(Names);
        var item = rng.Choice(Items);
        long value = rng.RandInt(10, 99);
        var sentences = new List<string> { $"{name} has {value} {item}." };
        var steps = rng.RandInt(3, 5);
        for (var i = 0; i < steps; i++)
        {
            var op = rng.Choice(Operations);
            if (op == "add")
            {
                var n = rng.RandInt(5, 250);
                value += n;
                sentences.Add($"A friend gives {name} {n} more {item}.");
            }
            else if (op == "sub" && value > 5)
            {
                var n = rng.RandInt(1, value - 1);
                value -= n;
                sentences.Add($"{name} gives away {n} {item}.");
            }
            else if (op == "mul" && value <= 2000)
            {
                var n = rng.RandInt(2, 5);
                value *= n;
                sentences.Add($"{name} ends up with {n} times as many {item} as before.");
            }
            else if (op == "div" && Enumerable.Range(2, 8).Any(d => value % d == 0))
            {
                long d = rng.Choice(Enumerable.Range(2, 8).Where(d => value % d == 0).ToArray());
                value /= d;
                sentences.Add($"{name} shares the {item} equally among {d} {rng.Choice(Containers)} and keeps only one of them.");
            }
            else
            {
                var count = rng.RandInt(2, 9);
                var each = rng.RandInt(3, 40);
                value += count * each;
                sentences.Add($"{name} buys {count} {rng.Choice(Containers)} holding {each} {item} each.");
            }
        }
        sentences.Add($"How many {item} does {name} have now?");
        return (string.Join(' ', sentences), value);
    }
}

/// <summary>The model's integer answer, read as python-arith reads it.</summary>
public static class Answers
{
    private static readonly Regex Boxed = new(@"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}");
    private static readonly Regex Answer = new(@"answer\s*(?:is)?\s*[:=]?\s*\**\s*\$?\s*(-?\d[\d,]*)", RegexOptions.IgnoreCase);
    // A minus sign counts only when it is not a subtraction ("10-3" is 10 then 3, not -3).
    private static readonly Regex Integer = new(@"(?:(?<![\w)])-)?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)");
    private static readonly Regex Think = new(@"<think>.*?</think>", RegexOptions.Singleline | RegexOptions.IgnoreCase);

    /// <summary>The last \boxed{N}, else the last "Answer: N", else the last integer; or null.</summary>
    public static long? Parse(string? reply)
    {
        if (reply is null)
        {
            return null;
        }
        var text = Think.Replace(reply, " ");
        foreach (var pattern in new[] { Boxed, Answer })
        {
            foreach (var match in pattern.Matches(text).Reverse())
            {
                if (Integer.Match(match.Groups[1].Value) is { Success: true } number)
                {
                    return ToInteger(number.Value);
                }
            }
        }
        var numbers = Integer.Matches(text);
        return numbers.Count > 0 ? ToInteger(numbers[^1].Value) : null;
    }

    private static long? ToInteger(string text) =>
        long.TryParse(text.Replace(",", "").Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : null;
}

/// <summary>
/// CPython's random.Random, enough of it to draw what python-arith draws: the Mersenne Twister (MT19937) seeded from a
/// string as Python 3 seeds it (the string's bytes followed by their SHA-512, read as one big-endian integer), and
/// randint/choice through getrandbits with rejection, as CPython's _randbelow does.
/// </summary>
public sealed class PythonRandom
{
    private const int N = 624;
    private const int M = 397;
    private readonly uint[] _mt = new uint[N];
    private int _index = N + 1;

    public PythonRandom(string seed)
    {
        var bytes = Encoding.UTF8.GetBytes(seed);
        var big = new BigInteger([.. bytes, .. SHA512.HashData(bytes)], isUnsigned: true, isBigEndian: true);
        var words = new List<uint>();
        for (var rest = big; rest > 0; rest >>= 32)
        {
            words.Add((uint)(rest & uint.MaxValue));
        }
        InitByArray(words.Count == 0 ? [0u] : [.. words]);
    }

    private void InitGenrand(uint s)
    {
        _mt[0] = s;
        for (var i = 1; i < N; i++)
        {
            _mt[i] = (uint)((1812433253u * (_mt[i - 1] ^ (_mt[i - 1] >> 30))) + (uint)i);
        }
        _index = N;
    }

    private void InitByArray(uint[] key)
    {
        InitGenrand(19650218u);
        int i = 1, j = 0;
        for (var k = Math.Max(N, key.Length); k > 0; k--)
        {
            _mt[i] = (uint)((_mt[i] ^ ((_mt[i - 1] ^ (_mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint)j);
            i++;
            j++;
            if (i >= N)
            {
                _mt[0] = _mt[N - 1];
                i = 1;
            }
            if (j >= key.Length)
            {
                j = 0;
            }
        }
        for (var k = N - 1; k > 0; k--)
        {
            _mt[i] = (uint)((_mt[i] ^ ((_mt[i - 1] ^ (_mt[i - 1] >> 30)) * 1566083941u)) - (uint)i);
            i++;
            if (i >= N)
            {
                _mt[0] = _mt[N - 1];
                i = 1;
            }
        }
        _mt[0] = 0x80000000u;
    }

    private uint NextUInt32()
    {
        if (_index >= N)
        {
            for (var k = 0; k < N; k++)
            {
                var y = (_mt[k] & 0x80000000u) | (_mt[(k + 1) % N] & 0x7fffffffu);
                _mt[k] = _mt[(k + M) % N] ^ (y >> 1) ^ ((y & 1u) != 0 ? 0x9908b0dfu : 0u);
            }
            _index = 0;
        }
        var z = _mt[_index++];
        z ^= z >> 11;
        z ^= (z << 7) & 0x9d2c5680u;
        z ^= (z << 15) & 0xefc60000u;
        z ^= z >> 18;
        return z;
    }

    private long GetRandBits(int k) => k == 0 ? 0 : NextUInt32() >> (32 - k);

    private long RandBelow(long n)
    {
        var k = 64 - BitOperations.LeadingZeroCount((ulong)n);
        var r = GetRandBits(k);
        while (r >= n)
        {
            r = GetRandBits(k);
        }
        return r;
    }

    /// <summary>random.randint(a, b): a &lt;= N &lt;= b.</summary>
    public long RandInt(long a, long b) => a + RandBelow(b - a + 1);

    /// <summary>random.choice(seq).</summary>
    public T Choice<T>(IReadOnlyList<T> items) => items[(int)RandBelow(items.Count)];
}
