using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary>
/// afs reads the Basilica key from <c>$BASILICA_API_TOKEN</c> only, and a process has one environment: the test
/// classes that set it (each with its own contract server and key) take turns, whatever collection they are in.
/// </summary>
internal static class BasilicaTokenScope
{
    private static readonly SemaphoreSlim Turn = new(1, 1);

    /// <summary>Waits for the turn (bounded), then sets the key; dispose to clear it and pass the turn on.</summary>
    public static async Task<IAsyncDisposable> EnterAsync(string token)
    {
        await Turn.WaitAsync().Within(TimeSpan.FromMinutes(20), "waiting for another Basilica test class to finish with $BASILICA_API_TOKEN");
        Environment.SetEnvironmentVariable("BASILICA_API_TOKEN", token);
        return new Leave();
    }

    private sealed class Leave : IAsyncDisposable
    {
        private int _left;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                Environment.SetEnvironmentVariable("BASILICA_API_TOKEN", null);
                Turn.Release();
            }
            return ValueTask.CompletedTask;
        }
    }
}
