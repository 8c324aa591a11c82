namespace Affinetes.Testing;

/// <summary>Every await in a test is bounded so that a hang fails fast with a message instead of stalling CI.</summary>
public static class Bounded
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);

    public static async Task<T> Within<T>(this Task<T> task, TimeSpan? limit = null, string? what = null)
    {
        try
        {
            return await task.WaitAsync(limit ?? Default);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{what ?? "operation"} did not finish within {(limit ?? Default).TotalSeconds:0.#} s");
        }
    }

    public static async Task Within(this Task task, TimeSpan? limit = null, string? what = null)
    {
        try
        {
            await task.WaitAsync(limit ?? Default);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{what ?? "operation"} did not finish within {(limit ?? Default).TotalSeconds:0.#} s");
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="limit"/> passes.</summary>
    public static async Task Until(Func<Task<bool>> condition, TimeSpan limit, string what)
    {
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"{what} did not happen within {limit.TotalSeconds:0.#} s");
    }
}
