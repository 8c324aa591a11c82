using System.Globalization;
using Affinetes.ValidatorClient.Evaluation;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Affinetes.ValidatorClient.Results;

/// <summary>
/// The reads <c>afs view</c> needs without loading every result: runs filtered with their figures, a run's figures
/// from the covering index, its task table a page at a time in SQL order, a task's neighbours, a run's progress,
/// two runs task by task. Their shapes follow a viewer's pages.
/// </summary>
public sealed class ResultQueries
{
    private readonly ResultStore store;

    private ResultQueries(ResultStore store) => this.store = store;

    /// <summary>The queries over a store <see cref="ResultStore.OpenAsync"/> opened.</summary>
    public static ResultQueries Of(ResultStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return new ResultQueries(store);
    }

    public Task<List<RunInfo>> ListRunsAsync(RunFilter filter, CancellationToken cancellationToken) => Task.Run(() =>
    {
        var where = new List<string>();
        var parameters = new List<(string, object)> { ("$limit", filter.Limit), ("$offset", filter.Offset) };
        if (!string.IsNullOrWhiteSpace(filter.Search))
        {
            foreach (var (word, i) in filter.Search.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select((w, i) => (w, i)))
            {
                where.Add($"(u.id LIKE $w{i} ESCAPE '\\' OR u.label LIKE $w{i} ESCAPE '\\' OR u.environment LIKE $w{i} ESCAPE '\\' OR u.image_digest LIKE $w{i} ESCAPE '\\' OR u.kwargs LIKE $w{i} ESCAPE '\\')");
                parameters.Add(($"$w{i}", "%" + word.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%"));
            }
        }
        if (filter.Environment is { Length: > 0 } environment)
        {
            where.Add("u.environment = $environment");
            parameters.Add(("$environment", environment));
        }
        if (filter.Model is { Length: > 0 } model)
        {
            where.Add("json_extract(u.kwargs, '$.model') = $model");
            parameters.Add(("$model", model));
        }
        if (filter.Status is { } status)
        {
            where.Add("u.status = $status");
            parameters.Add(("$status", status switch { RunStatus.Completed => "completed", RunStatus.Interrupted => "interrupted", _ => "running" }));
        }
        if (filter.From is { } from)
        {
            where.Add("u.created_at >= $from");
            parameters.Add(("$from", ResultStore.FormatTime(from)));
        }
        if (filter.Before is { } before)
        {
            where.Add("u.created_at < $before");
            parameters.Add(("$before", ResultStore.FormatTime(before)));
        }
        if (filter.Ids is { } ids)
        {
            where.Add($"u.id IN ({string.Join(", ", ids.Select((_, i) => "$id" + i.ToString(CultureInfo.InvariantCulture)))})");
            parameters.AddRange(ids.Select((id, i) => ("$id" + i.ToString(CultureInfo.InvariantCulture), (object)id)));
        }
        return store.QueryRuns(where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where), "LIMIT $limit OFFSET $offset", [.. parameters]);
    }, cancellationToken);

    /// <summary>The environments and models the store's runs have, for the filters' choices.</summary>
    public Task<(List<string> Environments, List<string> Models)> ChoicesAsync(CancellationToken cancellationToken) => Task.Run(() =>
    {
        using var connection = store.Connect();
        return (Strings(connection, "SELECT DISTINCT environment FROM runs WHERE environment IS NOT NULL ORDER BY 1"),
            Strings(connection, "SELECT DISTINCT json_extract(kwargs, '$.model') AS m FROM runs WHERE json_valid(kwargs) AND typeof(m) = 'text' ORDER BY 1"));
    }, cancellationToken);

    /// <summary>Every result's figures of a run, in no particular order: what its summary and charts are drawn from (the covering index alone).</summary>
    public Task<List<TaskFigures>> FiguresAsync(string runId, CancellationToken cancellationToken) => Task.Run(() =>
    {
        using var connection = store.Connect();
        // Read through SQLitePCL on the connection's handle, as the writer writes: Microsoft.Data.Sqlite's reader
        // cost 47 ms for a run of 20,000 tasks where SQLite's own scan of the index takes 4.
        var db = connection.Handle!;
        // No ORDER BY: in task order SQLite would walk the (run_id, task_id) index and read every row of the table.
        Check(db, raw.sqlite3_prepare_v2(db, $"SELECT {FigureColumns} FROM results WHERE run_id = ?1", out var statement));
        using (statement)
        {
            Check(db, raw.sqlite3_bind_text(statement, 1, runId));
            var figures = new List<TaskFigures>();
            int rc;
            while ((rc = raw.sqlite3_step(statement)) == raw.SQLITE_ROW)
            {
                var kind = raw.sqlite3_column_type(statement, 5) == raw.SQLITE_NULL ? TaskErrorKind.None : TaskErrorKinds.Parse(raw.sqlite3_column_text(statement, 5).utf8_to_string());
                figures.Add(new TaskFigures(raw.sqlite3_column_int64(statement, 0), raw.sqlite3_column_double(statement, 1), raw.sqlite3_column_int64(statement, 2) != 0,
                    raw.sqlite3_column_double(statement, 3), raw.sqlite3_column_int(statement, 4), kind, raw.sqlite3_column_int64(statement, 6) != 0));
            }
            if (rc != raw.SQLITE_DONE)
            {
                Check(db, rc);
            }
            return figures;
        }
    }, cancellationToken);

    private static void Check(sqlite3 db, int rc)
    {
        if (rc is not (raw.SQLITE_OK or raw.SQLITE_DONE or raw.SQLITE_ROW))
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }

    /// <summary>The error messages of some tasks of a run (the examples of a summary's failure groups).</summary>
    public Task<Dictionary<long, string>> ErrorsAsync(string runId, IReadOnlyCollection<long> taskIds, CancellationToken cancellationToken) => Task.Run(() =>
    {
        using var connection = store.Connect();
        var errors = new Dictionary<long, string>();
        foreach (var taskId in taskIds)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT error FROM results WHERE run_id = $run AND task_id = $task AND error IS NOT NULL";
            command.Parameters.AddWithValue("$run", runId);
            command.Parameters.AddWithValue("$task", taskId);
            if (command.ExecuteScalar() is string error)
            {
                errors[taskId] = error;
            }
        }
        return errors;
    }, cancellationToken);

    /// <summary>One page of a run's task table in <paramref name="order"/>, and how many rows the whole table has.</summary>
    public Task<(List<TaskRow> Rows, int Count)> TasksAsync(string runId, TaskOrder order, CancellationToken cancellationToken) => Task.Run(() =>
    {
        var column = order.Sort switch
        {
            "score" => "score",
            "success" => "success",
            "duration" => "duration_ms",
            "attempts" => "attempts",
            "error" => "error_kind",
            _ => "task_id",
        };
        var failed = order.FailedOnly ? " AND error_kind IS NOT NULL" : "";
        using var connection = store.Connect();
        int count;
        using (var counting = connection.CreateCommand())
        {
            counting.CommandText = $"SELECT COUNT(*) FROM results WHERE run_id = $run{failed}";
            counting.Parameters.AddWithValue("$run", runId);
            count = Convert.ToInt32(counting.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {FigureColumns}, substr(error, 1, 300) FROM results WHERE run_id = $run{failed}
            ORDER BY {column} {(order.Descending ? "DESC" : "ASC")}, task_id LIMIT $limit OFFSET $offset
            """;
        command.Parameters.AddWithValue("$run", runId);
        command.Parameters.AddWithValue("$limit", order.Limit);
        command.Parameters.AddWithValue("$offset", order.Offset);
        using var reader = command.ExecuteReader();
        var rows = new List<TaskRow>(order.Limit);
        while (reader.Read())
        {
            rows.Add(new TaskRow(ReadFigures(reader, 0), reader.IsDBNull(7) ? null : reader.GetString(7)));
        }
        return (rows, count);
    }, cancellationToken);

    /// <summary>The tasks of the run with a result just before and after <paramref name="taskId"/>, by task id.</summary>
    public Task<(long? Previous, long? Next)> NeighboursAsync(string runId, long taskId, CancellationToken cancellationToken) => Task.Run(() =>
    {
        using var connection = store.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT (SELECT MAX(task_id) FROM results WHERE run_id = $run AND task_id < $task),
                   (SELECT MIN(task_id) FROM results WHERE run_id = $run AND task_id > $task)
            """;
        command.Parameters.AddWithValue("$run", runId);
        command.Parameters.AddWithValue("$task", taskId);
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.IsDBNull(0) ? (long?)null : reader.GetInt64(0), reader.IsDBNull(1) ? (long?)null : reader.GetInt64(1));
    }, cancellationToken);

    /// <summary>Results of a run that started at or after <paramref name="since"/> (a rate where the run's process writes no progress).</summary>
    public Task<int> StartedSinceAsync(string runId, DateTimeOffset since, CancellationToken cancellationToken) => Task.Run(() =>
    {
        using var connection = store.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM results WHERE run_id = $run AND started_at >= $since";
        command.Parameters.AddWithValue("$run", runId);
        command.Parameters.AddWithValue("$since", ResultStore.FormatTime(since));
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }, cancellationToken);

    public Task<RunProgress?> ProgressAsync(string runId, CancellationToken cancellationToken) => Task.Run(() =>
    {
        using var connection = store.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT started_at, updated_at, done_before, from_cache, completed, failed, in_flight, retries FROM run_progress WHERE run_id = $run";
        command.Parameters.AddWithValue("$run", runId);
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new RunProgress(ResultStore.ParseTime(reader.GetString(0)), ResultStore.ParseTime(reader.GetString(1)), reader.GetInt32(2),
                reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5), reader.GetInt32(6), reader.GetInt32(7))
            : null;
    }, cancellationToken);

    /// <summary>
    /// Runs <paramref name="a"/> and <paramref name="b"/> task by task: the counts over every task, and one page in
    /// <paramref name="sort"/> order: <c>disagreement</c> (success differs, then the largest score difference), <c>difference</c>
    /// (b - a), <c>task</c>, <c>a</c> or <c>b</c> (the score).
    /// </summary>
    public Task<ComparisonPage> CompareAsync(string a, string b, string sort, bool descending, int offset, int limit, CancellationToken cancellationToken) => Task.Run(() =>
    {
        const string Joined = """
            WITH a AS (SELECT task_id, score, success, duration_ms, attempts, error_kind, cached_from FROM results WHERE run_id = $a),
                 b AS (SELECT task_id, score, success, duration_ms, attempts, error_kind, cached_from FROM results WHERE run_id = $b),
                 joined AS (
                     SELECT a.task_id AS task_id, a.score AS sa, a.success AS ka, a.duration_ms AS da, a.attempts AS ta, a.error_kind AS ea, a.cached_from IS NOT NULL AS ca,
                            b.score AS sb, b.success AS kb, b.duration_ms AS db, b.attempts AS tb, b.error_kind AS eb, b.cached_from IS NOT NULL AS cb
                     FROM a LEFT JOIN b ON b.task_id = a.task_id
                     UNION ALL
                     SELECT b.task_id, NULL, NULL, NULL, NULL, NULL, NULL, b.score, b.success, b.duration_ms, b.attempts, b.error_kind, b.cached_from IS NOT NULL
                     FROM b WHERE NOT EXISTS (SELECT 1 FROM a WHERE a.task_id = b.task_id))
            """;
        using var connection = store.Connect();
        int tasks, both, successDiffers, scoreDiffers, onlyA, onlyB;
        double? mean;
        using (var totals = connection.CreateCommand())
        {
            totals.CommandText = Joined + """
                SELECT COUNT(*), COUNT(sa IS NOT NULL AND sb IS NOT NULL OR NULL), COUNT(ka IS NOT kb AND sa IS NOT NULL AND sb IS NOT NULL OR NULL),
                       COUNT(sa <> sb OR NULL), COUNT(sb IS NULL OR NULL), COUNT(sa IS NULL OR NULL), AVG(sb - sa)
                FROM joined
                """;
            totals.Parameters.AddWithValue("$a", a);
            totals.Parameters.AddWithValue("$b", b);
            using var reader = totals.ExecuteReader();
            reader.Read();
            (tasks, both, successDiffers, scoreDiffers, onlyA, onlyB) = (reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5));
            mean = reader.IsDBNull(6) ? null : reader.GetDouble(6);
        }
        var direction = descending ? "DESC" : "ASC";
        var orderBy = sort switch
        {
            "difference" => $"(sb - sa) IS NULL, (sb - sa) {direction}, task_id",
            "task" => $"task_id {direction}",
            "a" => $"sa IS NULL, sa {direction}, task_id",
            "b" => $"sb IS NULL, sb {direction}, task_id",
            _ => "(sa IS NULL OR sb IS NULL), (ka IS NOT kb) DESC, ABS(sb - sa) DESC, task_id",
        };
        using var command = connection.CreateCommand();
        command.CommandText = Joined + $"SELECT * FROM joined ORDER BY {orderBy} LIMIT $limit OFFSET $offset";
        command.Parameters.AddWithValue("$a", a);
        command.Parameters.AddWithValue("$b", b);
        command.Parameters.AddWithValue("$limit", limit);
        command.Parameters.AddWithValue("$offset", offset);
        using var rows = command.ExecuteReader();
        var page = new List<TaskComparison>(limit);
        while (rows.Read())
        {
            var id = rows.GetInt64(0);
            page.Add(new TaskComparison(id, rows.IsDBNull(1) ? null : Side(rows, id, 1), rows.IsDBNull(7) ? null : Side(rows, id, 7)));
        }
        return new ComparisonPage(tasks, both, successDiffers, scoreDiffers, onlyA, onlyB, mean, page);
    }, cancellationToken);

    private const string FigureColumns = "task_id, score, success, duration_ms, attempts, error_kind, cached_from IS NOT NULL";

    private static TaskFigures ReadFigures(SqliteDataReader reader, int at) => new(reader.GetInt64(at), reader.GetDouble(at + 1), reader.GetInt64(at + 2) != 0,
        reader.GetDouble(at + 3), reader.GetInt32(at + 4), TaskErrorKinds.Parse(reader.IsDBNull(at + 5) ? null : reader.GetString(at + 5)), reader.GetInt64(at + 6) != 0);

    /// <summary>One side of a comparison row: score, success, duration, attempts, error kind, cached from <paramref name="at"/>.</summary>
    private static TaskFigures Side(SqliteDataReader reader, long taskId, int at) => new(taskId, reader.GetDouble(at), reader.GetInt64(at + 1) != 0,
        reader.GetDouble(at + 2), reader.GetInt32(at + 3), TaskErrorKinds.Parse(reader.IsDBNull(at + 4) ? null : reader.GetString(at + 4)), reader.GetInt64(at + 5) != 0);

    private static List<string> Strings(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<string>();
        while (reader.Read())
        {
            values.Add(reader.GetString(0));
        }
        return values;
    }
}
