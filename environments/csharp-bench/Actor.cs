// The benchmarks' C# environment, the twin of python-bench: a trivial sync method and an async one that waits like an
// LLM call. scripts/bench.sh runtimes serves it beside python-bench.
public class Actor
{
    public object Echo(int x, string text) => new { x, text };

    public async Task<object> Evaluate(int taskId, int delayMs = 50)
    {
        await Task.Delay(delayMs);
        return new { TaskId = taskId, Score = 1.0, Success = true };
    }
}
