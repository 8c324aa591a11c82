using Microsoft.Data.Sqlite;

namespace Affinetes.ValidatorClient.Results;

/// <summary>
/// The store's schema as an ordered list of migrations; migration i brings the file to <c>PRAGMA user_version</c>
/// i + 1. A migration is never edited once shipped: a later change is a new entry that keeps what is stored.
/// </summary>
internal static class Schema
{
    public static readonly IReadOnlyList<string> Migrations =
    [
        // 1: runs with their task sets (a JSON array, in run order), one result per task, every failed attempt.
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            environment TEXT,
            image_digest TEXT,
            method TEXT NOT NULL,
            kwargs TEXT NOT NULL,
            task_id_parameter TEXT NOT NULL,
            task_ids TEXT NOT NULL,
            task_count INTEGER NOT NULL,
            concurrency INTEGER NOT NULL,
            timeout_ms INTEGER,
            retries INTEGER NOT NULL,
            retry_delay_ms INTEGER NOT NULL,
            use_cache INTEGER NOT NULL,
            label TEXT
        );
        CREATE INDEX runs_identity ON runs (image_digest, method, task_id_parameter, kwargs);
        CREATE INDEX runs_created ON runs (created_at);
        CREATE TABLE results (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs (id),
            task_id INTEGER NOT NULL,
            error_kind TEXT,
            error TEXT,
            score REAL NOT NULL,
            success INTEGER NOT NULL,
            value TEXT,
            attempts INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            duration_ms REAL NOT NULL,
            cached_from INTEGER REFERENCES results (id),
            UNIQUE (run_id, task_id)
        );
        CREATE TABLE errors (
            result_id INTEGER NOT NULL REFERENCES results (id),
            attempt INTEGER NOT NULL,
            kind TEXT NOT NULL,
            message TEXT NOT NULL,
            PRIMARY KEY (result_id, attempt)
        ) WITHOUT ROWID;
        """,
        // 2: what each task used through the LLM gateway (tokens as the upstream reported them), added up over the
        // run's executions (a resume adds to it).
        """
        CREATE TABLE llm_usage (
            run_id TEXT NOT NULL REFERENCES runs (id),
            task_id INTEGER NOT NULL,
            requests INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            total_tokens INTEGER NOT NULL,
            latency_ms_total REAL NOT NULL,
            PRIMARY KEY (run_id, task_id)
        ) WITHOUT ROWID;
        """,
        // 3: what the caller keeps with a run to resume it as it was started (replicas, network, model side ...), a
        // JSON object of strings the store does not read.
        """
        ALTER TABLE runs ADD COLUMN settings TEXT;
        """,
        // 4: each task's transcript (its exchanges with the model through the LLM gateway) beside its result, written in
        // the result's transaction: a gzip-compressed JSON array of ExchangeRecord per part. Part 0 comes with the
        // result; exchanges collected later (calls that ended after it, a resumed run) are further parts, so a
        // transcript is only ever appended to. And whether a run keeps transcripts at all, for its resumes.
        """
        CREATE TABLE transcripts (
            run_id TEXT NOT NULL REFERENCES runs (id),
            task_id INTEGER NOT NULL,
            part INTEGER NOT NULL,
            exchanges INTEGER NOT NULL,
            exchanges_dropped INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (run_id, task_id, part)
        );
        ALTER TABLE runs ADD COLUMN record_transcripts INTEGER NOT NULL DEFAULT 1;
        """,
        // 5: what afs view reads without touching the results' values: every figure of a result in one covering index
        // (a run's summary, histograms and sorted task pages read the index alone, however large the values are: on
        // 100,000 results of 10 KB, a run of 20,000 tasks read in 17 ms instead of 115), and a run's progress as its
        // process last wrote it (tasks in flight, counts, retries, once a second while it runs).
        """
        CREATE INDEX results_figures ON results (run_id, score, success, duration_ms, attempts, error_kind, cached_from, task_id, started_at);
        CREATE TABLE run_progress (
            run_id TEXT PRIMARY KEY REFERENCES runs (id),
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            done_before INTEGER NOT NULL,
            from_cache INTEGER NOT NULL,
            completed INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            in_flight INTEGER NOT NULL,
            retries INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
    ];

    /// <summary>
    /// Brings the file to the newest schema, in one transaction that other writers wait for; refuses a file written
    /// by a newer version rather than guessing at its tables.
    /// </summary>
    public static void Migrate(SqliteConnection connection, string path, IReadOnlyList<string> migrations)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        var version = Convert.ToInt32(Execute(connection, transaction, "PRAGMA user_version", scalar: true), System.Globalization.CultureInfo.InvariantCulture);
        if (version > migrations.Count)
        {
            throw new ResultStoreException(
                $"the results store {path} has schema version {version}, newer than this version knows ({migrations.Count}); " +
                "use a newer afs / ValidatorClient, or another store path");
        }
        for (var i = version; i < migrations.Count; i++)
        {
            Execute(connection, transaction, migrations[i]);
            Execute(connection, transaction, $"PRAGMA user_version = {i + 1}");
        }
        transaction.Commit();
    }

    private static object? Execute(SqliteConnection connection, SqliteTransaction transaction, string sql, bool scalar = false)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return scalar ? command.ExecuteScalar() : command.ExecuteNonQuery();
    }
}
