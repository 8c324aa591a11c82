using Microsoft.Data.Sqlite;

namespace Affinetes.ValidatorClient.Results;

/// <summary>
/// Transcripts in the store: a task's exchanges with the model, gzip-compressed JSON parts beside its result (part 0
/// written with the result by <see cref="ResultWriter"/>, later parts appended), read back in order as one transcript.
/// </summary>
public sealed partial class ResultStore
{
    private static (string Run, long Task)? SourceOf(SqliteConnection connection, long resultId)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT run_id, task_id FROM results WHERE id = $id";
        command.Parameters.AddWithValue("$id", resultId);
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetString(0), reader.GetInt64(1)) : null;
    }

    /// <summary>A task's transcript, its parts in order; null when none was stored.</summary>
    private static LlmTranscript? ReadTranscript(SqliteConnection connection, string runId, long taskId)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT exchanges_dropped, data FROM transcripts WHERE run_id = $run AND task_id = $task ORDER BY part";
        command.Parameters.AddWithValue("$run", runId);
        command.Parameters.AddWithValue("$task", taskId);
        using var reader = command.ExecuteReader();
        LlmTranscript? transcript = null;
        while (reader.Read())
        {
            using var data = reader.GetStream(1);
            var part = new LlmTranscript(TranscriptData.Decode(data), reader.GetInt32(0));
            transcript = transcript is null ? part : transcript.Append(part);
        }
        return transcript;
    }

    /// <summary>Appends a transcript part: exchanges of a task, in order after the parts stored before.</summary>
    internal const string AddTranscriptSql = """
        INSERT INTO transcripts (run_id, task_id, part, exchanges, exchanges_dropped, data)
        SELECT $run, $task, COALESCE(MAX(part) + 1, 0), $exchanges, $dropped, $data FROM transcripts WHERE run_id = $run AND task_id = $task
        """;

    /// <summary>Appends exchanges collected after their tasks' results were stored (calls that ended late).</summary>
    internal void AddTranscripts(string runId, IReadOnlyDictionary<long, LlmTranscript> transcripts)
    {
        using var connection = Connect();
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = AddTranscriptSql;
        command.Parameters.AddWithValue("$run", runId);
        var task = command.Parameters.Add("$task", SqliteType.Integer);
        var exchanges = command.Parameters.Add("$exchanges", SqliteType.Integer);
        var dropped = command.Parameters.Add("$dropped", SqliteType.Integer);
        var data = command.Parameters.Add("$data", SqliteType.Blob);
        foreach (var (taskId, transcript) in transcripts)
        {
            (task.Value, exchanges.Value, dropped.Value, data.Value) = (taskId, transcript.Exchanges.Count, transcript.ExchangesDropped, TranscriptData.Encode(transcript.Exchanges));
            command.ExecuteNonQuery();
        }
        transaction.Commit();
    }
}
