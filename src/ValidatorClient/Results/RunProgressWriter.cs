using Affinetes.ValidatorClient.Evaluation;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Results;

/// <summary>
/// Writes a running run's progress (tasks in flight, counts of this start, retries) to its <c>run_progress</c> row
/// once a second and when the run ends, on a connection of its own, so that whoever reads the store (afs view) sees
/// what the results alone cannot say: how many tasks are in flight, how fast they go, and whether the process is alive.
/// A failed write is logged once and never stops the run.
/// </summary>
internal sealed partial class RunProgressWriter : IAsyncDisposable
{
    /// <summary>How often the row is written: what a page showing the run can lag behind.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private const string Upsert = """
        INSERT INTO run_progress (run_id, started_at, updated_at, done_before, from_cache, completed, failed, in_flight, retries)
        VALUES ($run, $started, $now, $before, $cached, $completed, $failed, $flight, $retries)
        ON CONFLICT (run_id) DO UPDATE SET started_at = excluded.started_at, updated_at = excluded.updated_at, done_before = excluded.done_before,
            from_cache = excluded.from_cache, completed = excluded.completed, failed = excluded.failed, in_flight = excluded.in_flight, retries = excluded.retries
        """;

    private readonly ResultStore _store;
    private readonly string _runId;
    private readonly Func<EvaluationProgress> _progress;
    private readonly ILogger _logger;
    private readonly string _startedAt = ResultStore.FormatTime(DateTimeOffset.UtcNow);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _writing;
    private int _warned;

    public RunProgressWriter(ResultStore store, string runId, Func<EvaluationProgress> progress, ILogger logger)
    {
        _store = store;
        _runId = runId;
        _progress = progress;
        _logger = logger;
        _writing = Task.Run(WriteUntilStoppedAsync);
    }

    private async Task WriteUntilStoppedAsync()
    {
        using var timer = new PeriodicTimer(Interval);
        Write();
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                Write();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Write()
    {
        var progress = _progress();
        try
        {
            using var connection = _store.Connect();
            using var command = connection.CreateCommand();
            command.CommandText = Upsert;
            command.Parameters.AddWithValue("$run", _runId);
            command.Parameters.AddWithValue("$started", _startedAt);
            command.Parameters.AddWithValue("$now", ResultStore.FormatTime(DateTimeOffset.UtcNow));
            command.Parameters.AddWithValue("$before", progress.AlreadyDone);
            command.Parameters.AddWithValue("$cached", progress.FromCache);
            command.Parameters.AddWithValue("$completed", progress.Completed);
            command.Parameters.AddWithValue("$failed", progress.Failed);
            command.Parameters.AddWithValue("$flight", progress.InFlight);
            command.Parameters.AddWithValue("$retries", progress.Retries);
            command.ExecuteNonQuery();
        }
        catch (SqliteException e)
        {
            if (Interlocked.Exchange(ref _warned, 1) == 0)
            {
                Log.ProgressNotWritten(_logger, _runId, e.Message);
            }
        }
    }

    /// <summary>Stops the timer and writes the last figures (none in flight).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        await _stop.CancelAsync();
        await _writing;
        Write();
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "run {RunId}: its progress could not be written to the store ({Reason}); the results are written all the same")]
        public static partial void ProgressNotWritten(ILogger logger, string runId, string reason);
    }
}
