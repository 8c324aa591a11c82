using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Affinetes.ValidatorClient.Evaluation;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SQLitePCL;

namespace Affinetes.ValidatorClient.Results;

/// <summary>What the runner records about a run when it starts.</summary>
internal sealed record NewRun(string Id, EvaluationRequest Request, string Kwargs);

/// <summary>
/// Where evaluation results are kept: runs, their tasks and one result per task, in one SQLite file in WAL mode.
/// Written only by the evaluation runner (<see cref="EvaluationRunner.Create"/>, the jobs); read by whoever lists or
/// shows runs (<see cref="ResultQueries"/>). Readers never wait for the writer, each batch of results is one
/// transaction (all of its rows or none of them, also when the writer is killed), and several processes may use one
/// file (a writer waits up to 30 s for another's transaction). Sealed: the runner's cache, resume and locks rely on
/// this store's schema, so there is no second implementation to plug in.
/// </summary>
public sealed partial class ResultStore : IAsyncDisposable
{
    /// <summary>The environment variable that overrides <see cref="DefaultPath"/>.</summary>
    public const string PathVariable = "AFFINETES_RESULTS_DB";

    /// <summary>
    /// <c>$AFFINETES_RESULTS_DB</c> when set, else <c>affinetes/results.db</c> under the user's data directory
    /// (<c>$XDG_DATA_HOME</c> or <c>~/.local/share</c> on Linux, <c>%LOCALAPPDATA%</c> on Windows).
    /// </summary>
    public static string DefaultPath =>
        System.Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } path
            ? path
            : System.IO.Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.LocalApplicationData, System.Environment.SpecialFolderOption.DoNotVerify), "affinetes", "results.db");

    /// <summary>
    /// Opens (and creates, or upgrades to the current schema) the store at <paramref name="path"/>, or at
    /// <see cref="DefaultPath"/>. Throws <see cref="ResultStoreException"/> when the file cannot be a store.
    /// </summary>
    public static Task<ResultStore> OpenAsync(string? path = null, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Open(path ?? DefaultPath, Schema.Migrations, loggerFactory), cancellationToken);

    internal const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    private readonly string _connectionString;
    private readonly ILogger _logger;

    private ResultStore(string path, string connectionString, ILogger logger)
    {
        Path = path;
        _connectionString = connectionString;
        _logger = logger;
    }

    /// <summary>The store's file.</summary>
    public string Path { get; }

    internal static ResultStore Open(string path, IReadOnlyList<string> migrations, ILoggerFactory? loggerFactory)
    {
        var full = System.IO.Path.GetFullPath(path);
        try
        {
            if (System.IO.Path.GetDirectoryName(full) is { } directory)
            {
                Directory.CreateDirectory(directory);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ResultStoreException($"cannot create the directory of the results store {full}: {e.Message}; give another path", e);
        }
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        var store = new ResultStore(full, connectionString, (ILogger?)loggerFactory?.CreateLogger<ResultStore>() ?? NullLogger.Instance);
        try
        {
            using var connection = store.Connect();
            using (var wal = connection.CreateCommand())
            {
                wal.CommandText = "PRAGMA journal_mode = WAL";
                wal.ExecuteNonQuery();
            }
            Schema.Migrate(connection, full, migrations);
        }
        catch (SqliteException e)
        {
            throw new ResultStoreException($"{full} cannot be used as a results store ({e.Message}); give another path or move that file away", e);
        }
        Log.Opened(store._logger, full, migrations.Count);
        return store;
    }

    /// <summary>A new connection with this store's per-connection settings.</summary>
    internal SqliteConnection Connect()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        // NORMAL in WAL mode: a commit survives the writer's process being killed; only a power cut may lose the
        // last commits, and never leaves a half-written one. Foreign keys are declared, not enforced per row: the
        // writer only writes results of the run it was opened for, which exists before it (tests check the keys).
        command.CommandText = "PRAGMA synchronous = NORMAL;";
        command.ExecuteNonQuery();
        return connection;
    }

    /// <summary>The newest runs first.</summary>
    public Task<IReadOnlyList<RunInfo>> ListRunsAsync(int limit = 50, CancellationToken cancellationToken = default) =>
        Task.Run<IReadOnlyList<RunInfo>>(() => QueryRuns("", "LIMIT $limit", ("$limit", limit)), cancellationToken);

    /// <summary>One run, or null when the store has none of that id.</summary>
    public Task<RunInfo?> GetRunAsync(string runId, CancellationToken cancellationToken = default) =>
        Task.Run(() => QueryRuns("WHERE u.id = $id", "", ("$id", runId)).SingleOrDefault(), cancellationToken);

    /// <summary>
    /// Runs chosen by <paramref name="where"/> (on <c>runs u</c>), newest first, <paramref name="limit"/> applied, each
    /// with the figures of its results (read from the covering index, one pass per run).
    /// </summary>
    internal List<RunInfo> QueryRuns(string where, string limit, params (string Name, object Value)[] parameters)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        // The chosen runs' figures grouped in index order (run_id first: no sort of the results), then joined: on
        // 100,000 results in 81 runs 34 ms, where grouping the joined rows by run took 190.
        command.CommandText = $"""
            WITH chosen AS (SELECT u.rowid AS position, u.* FROM runs u {where} ORDER BY u.created_at DESC, u.rowid DESC {limit}),
                 figures AS (SELECT r.run_id, COUNT(*) AS n, COUNT(r.error_kind) AS failed, COUNT(r.cached_from) AS cached, AVG(r.score) AS mean,
                                    AVG(r.success) AS success, TOTAL(r.score * r.score) AS squares
                             FROM results r WHERE r.run_id IN (SELECT id FROM chosen) GROUP BY r.run_id)
            SELECT u.id, u.created_at, u.finished_at, u.status, u.environment, u.image_digest, u.method, u.kwargs,
                   u.task_id_parameter, u.concurrency, u.timeout_ms, u.retries, u.retry_delay_ms, u.use_cache, u.label,
                   u.task_count, COALESCE(f.n, 0), COALESCE(f.failed, 0), COALESCE(f.cached, 0), f.mean, f.success,
                   u.settings, u.record_transcripts, COALESCE(f.squares, 0)
            FROM chosen u LEFT JOIN figures f ON f.run_id = u.id
            ORDER BY u.created_at DESC, u.position DESC
            """;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        using var reader = command.ExecuteReader();
        var runs = new List<RunInfo>();
        while (reader.Read())
        {
            var count = reader.GetInt32(16);
            double? mean = reader.IsDBNull(19) ? null : reader.GetDouble(19);
            var half = mean is { } m && count > 1
                ? EvaluationSummary.StudentT975(count - 1) * Math.Sqrt(Math.Max(0, (reader.GetDouble(23) - (count * m * m)) / (count - 1)) / count)
                : 0;
            runs.Add(new RunInfo
            {
                Id = reader.GetString(0),
                CreatedAt = ParseTime(reader.GetString(1)),
                FinishedAt = reader.IsDBNull(2) ? null : ParseTime(reader.GetString(2)),
                Status = ParseStatus(reader.GetString(3)),
                Environment = reader.IsDBNull(4) ? null : reader.GetString(4),
                ImageDigest = reader.IsDBNull(5) ? null : reader.GetString(5),
                Method = reader.GetString(6),
                Kwargs = reader.GetString(7),
                TaskIdParameter = reader.GetString(8),
                Concurrency = reader.GetInt32(9),
                TaskTimeout = reader.IsDBNull(10) ? null : TimeSpan.FromMilliseconds(reader.GetInt64(10)),
                Retries = reader.GetInt32(11),
                RetryDelay = TimeSpan.FromMilliseconds(reader.GetInt64(12)),
                UseCache = reader.GetInt64(13) != 0,
                Label = reader.IsDBNull(14) ? null : reader.GetString(14),
                TaskCount = reader.GetInt32(15),
                ResultCount = count,
                FailedCount = reader.GetInt32(17),
                CacheHits = reader.GetInt32(18),
                MeanScore = mean,
                MeanScoreLow = mean - half,
                MeanScoreHigh = mean + half,
                SuccessRate = reader.IsDBNull(20) ? null : reader.GetDouble(20),
                Settings = reader.IsDBNull(21) ? new Dictionary<string, string>() : JsonSerializer.Deserialize(reader.GetString(21), StoreJson.Default.DictionaryStringString) ?? [],
                RecordTranscripts = reader.GetInt64(22) != 0,
            });
        }
        return runs;
    }

    /// <summary>A run's results, by task id (without their transcripts: <see cref="GetResultAsync"/> reads one task's).</summary>
    public Task<IReadOnlyList<TaskResult>> GetResultsAsync(string runId, CancellationToken cancellationToken = default) =>
        Task.Run<IReadOnlyList<TaskResult>>(() =>
        {
            using var connection = Connect();
            var errors = new Dictionary<long, List<AttemptError>>();
            using (var command = connection.CreateCommand())
            {
                command.CommandText = """
                    SELECT e.result_id, e.attempt, e.kind, e.message FROM errors e JOIN results r ON r.id = e.result_id
                    WHERE r.run_id = $run ORDER BY e.result_id, e.attempt
                    """;
                command.Parameters.AddWithValue("$run", runId);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    var id = reader.GetInt64(0);
                    if (!errors.TryGetValue(id, out var list))
                    {
                        errors[id] = list = [];
                    }
                    list.Add(new AttemptError(reader.GetInt32(1), TaskErrorKinds.Parse(reader.GetString(2)), reader.GetString(3)));
                }
            }
            var usage = ReadLlmUsage(connection, runId);
            using (var command = connection.CreateCommand())
            {
                command.CommandText = $"SELECT {ResultColumns} FROM results WHERE run_id = $run ORDER BY task_id";
                command.Parameters.AddWithValue("$run", runId);
                using var reader = command.ExecuteReader();
                var results = new List<TaskResult>();
                while (reader.Read())
                {
                    var result = ReadResult(reader);
                    if (errors.TryGetValue(result.StoreId, out var list))
                    {
                        result = result with { AttemptErrors = list };
                    }
                    results.Add(usage.TryGetValue(result.TaskId, out var used) ? result with { LlmUsage = used } : result);
                }
                return results;
            }
        }, cancellationToken);

    /// <summary>
    /// One task's result with its failed attempts, usage and transcript (a result served from the cache has the
    /// transcript of the result it copies), or null when the run has no result for that task.
    /// </summary>
    public Task<TaskResult?> GetResultAsync(string runId, long taskId, CancellationToken cancellationToken = default) =>
        Task.Run(() =>
        {
            using var connection = Connect();
            TaskResult result;
            using (var command = connection.CreateCommand())
            {
                command.CommandText = $"SELECT {ResultColumns} FROM results WHERE run_id = $run AND task_id = $task";
                command.Parameters.AddWithValue("$run", runId);
                command.Parameters.AddWithValue("$task", taskId);
                using var reader = command.ExecuteReader();
                if (!reader.Read())
                {
                    return null;
                }
                result = ReadResult(reader);
            }
            var errors = new List<AttemptError>();
            using (var command = connection.CreateCommand())
            {
                command.CommandText = "SELECT attempt, kind, message FROM errors WHERE result_id = $id ORDER BY attempt";
                command.Parameters.AddWithValue("$id", result.StoreId);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    errors.Add(new AttemptError(reader.GetInt32(0), TaskErrorKinds.Parse(reader.GetString(1)), reader.GetString(2)));
                }
            }
            LlmTaskUsage? usage = null;
            using (var command = connection.CreateCommand())
            {
                command.CommandText = "SELECT requests, errors, prompt_tokens, completion_tokens, total_tokens, latency_ms_total FROM llm_usage WHERE run_id = $run AND task_id = $task";
                command.Parameters.AddWithValue("$run", runId);
                command.Parameters.AddWithValue("$task", taskId);
                using var reader = command.ExecuteReader();
                if (reader.Read())
                {
                    usage = new LlmTaskUsage(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetDouble(5));
                }
            }
            // A result served from the cache was said by the result it copies.
            var (transcriptRun, transcriptTask) = result.CachedFrom is { } source ? SourceOf(connection, source) ?? (runId, taskId) : (runId, taskId);
            return result with { AttemptErrors = errors, LlmUsage = usage, Transcript = ReadTranscript(connection, transcriptRun, transcriptTask) };
        }, cancellationToken);

    private const string ResultColumns = "id, task_id, error_kind, error, score, success, value, attempts, started_at, duration_ms, cached_from";

    private static TaskResult ReadResult(SqliteDataReader reader)
    {
        JsonElement? value = null;
        if (!reader.IsDBNull(6))
        {
            // Results stored before answers were repaired on arrival may hold a lone surrogate escape.
            using var document = JsonDocument.Parse(Pooling.AnswerReader.RepairLoneSurrogates(reader.GetString(6)), Pooling.AnswerReader.DocumentOptions);
            value = document.RootElement.Clone();
        }
        return new TaskResult
        {
            StoreId = reader.GetInt64(0),
            TaskId = reader.GetInt64(1),
            ErrorKind = TaskErrorKinds.Parse(reader.IsDBNull(2) ? null : reader.GetString(2)),
            Error = reader.IsDBNull(3) ? null : reader.GetString(3),
            Score = reader.GetDouble(4),
            Success = reader.GetInt64(5) != 0,
            Value = value,
            Attempts = reader.GetInt32(7),
            StartedAt = ParseTime(reader.GetString(8)),
            // Rounded to the tick it was written from: TimeSpan.FromMilliseconds truncates, and 12.3455 ms read back as
            // 12.3454 ms made a stored result differ from the yielded one.
            Duration = TimeSpan.FromTicks((long)Math.Round(reader.GetDouble(9) * TimeSpan.TicksPerMillisecond)),
            FromCache = !reader.IsDBNull(10),
            CachedFrom = reader.IsDBNull(10) ? null : reader.GetInt64(10),
        };
    }

    /// <summary>Records a new run with its task set.</summary>
    internal void CreateRun(NewRun run, IReadOnlyList<long> taskIds)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO runs (id, created_at, status, environment, image_digest, method, kwargs, task_id_parameter, task_ids, task_count,
                              concurrency, timeout_ms, retries, retry_delay_ms, use_cache, label, settings, record_transcripts)
            VALUES ($id, $created, 'running', $environment, $digest, $method, $kwargs, $parameter, $tasks, $count,
                    $concurrency, $timeout, $retries, $delay, $cache, $label, $settings, $transcripts)
            """;
        var request = run.Request;
        command.Parameters.AddWithValue("$id", run.Id);
        command.Parameters.AddWithValue("$created", FormatTime(DateTimeOffset.UtcNow));
        command.Parameters.AddWithValue("$environment", (object?)request.Environment ?? DBNull.Value);
        command.Parameters.AddWithValue("$digest", (object?)request.ImageDigest ?? DBNull.Value);
        command.Parameters.AddWithValue("$method", request.Method);
        command.Parameters.AddWithValue("$kwargs", run.Kwargs);
        command.Parameters.AddWithValue("$parameter", request.TaskIdParameter);
        command.Parameters.AddWithValue("$tasks", JsonSerializer.Serialize(taskIds, StoreJson.Default.IReadOnlyListInt64));
        command.Parameters.AddWithValue("$count", taskIds.Count);
        command.Parameters.AddWithValue("$concurrency", request.Concurrency);
        command.Parameters.AddWithValue("$timeout", request.TaskTimeout is { } t ? (long)t.TotalMilliseconds : DBNull.Value);
        command.Parameters.AddWithValue("$retries", request.Retries);
        command.Parameters.AddWithValue("$delay", (long)request.RetryDelay.TotalMilliseconds);
        command.Parameters.AddWithValue("$cache", request.UseCache ? 1 : 0);
        command.Parameters.AddWithValue("$label", (object?)request.Label ?? DBNull.Value);
        command.Parameters.AddWithValue("$transcripts", request.RecordTranscripts ? 1 : 0);
        command.Parameters.AddWithValue("$settings", request.Settings.Count == 0 ? DBNull.Value
            : JsonSerializer.Serialize(request.Settings.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), StoreJson.Default.DictionaryStringString));
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Successful results of earlier runs with the same image digest, method, task id parameter and kwargs, for the
    /// given tasks: the cache. A result served from the cache points at the one it copies.
    /// </summary>
    internal Dictionary<long, TaskResult> FindCached(string imageDigest, string method, string taskIdParameter, string kwargs, IReadOnlyCollection<long> taskIds)
    {
        var wanted = taskIds as ISet<long> ?? taskIds.ToHashSet();
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {string.Join(", ", ResultColumns.Split(", ").Select(c => "r." + c))}
            FROM results r JOIN runs u ON u.id = r.run_id
            WHERE u.image_digest = $digest AND u.method = $method AND u.task_id_parameter = $parameter AND u.kwargs = $kwargs
              AND r.error_kind IS NULL AND r.success = 1
            ORDER BY r.id
            """;
        command.Parameters.AddWithValue("$digest", imageDigest);
        command.Parameters.AddWithValue("$method", method);
        command.Parameters.AddWithValue("$parameter", taskIdParameter);
        command.Parameters.AddWithValue("$kwargs", kwargs);
        using var reader = command.ExecuteReader();
        var found = new Dictionary<long, TaskResult>();
        while (reader.Read())
        {
            var taskId = reader.GetInt64(1);
            if (wanted.Contains(taskId) && !found.ContainsKey(taskId))
            {
                var result = ReadResult(reader);
                found[taskId] = result with { FromCache = true, Attempts = 0, CachedFrom = result.CachedFrom ?? result.StoreId };
            }
        }
        return found;
    }

    /// <summary>
    /// A setting kept with the newest run of <paramref name="imageDigest"/> and <paramref name="method"/> that has it
    /// (e.g. the method's descriptor, which makes a run's kwargs without starting the environment); null when none has.
    /// </summary>
    internal string? LatestSetting(string imageDigest, string method, string key)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT settings FROM runs WHERE image_digest = $digest AND method = $method AND settings IS NOT NULL
            ORDER BY created_at DESC LIMIT 20
            """;
        command.Parameters.AddWithValue("$digest", imageDigest);
        command.Parameters.AddWithValue("$method", method);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var settings = JsonSerializer.Deserialize(reader.GetString(0), StoreJson.Default.DictionaryStringString);
            if (settings is not null && settings.TryGetValue(key, out var value))
            {
                return value;
            }
        }
        return null;
    }

    /// <summary>The run's tasks, in the run's order.</summary>
    internal List<long> RunTasks(string runId)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT task_ids FROM runs WHERE id = $run";
        command.Parameters.AddWithValue("$run", runId);
        return command.ExecuteScalar() is string json
            ? JsonSerializer.Deserialize(json, StoreJson.Default.ListInt64)!
            : throw new ResultStoreException($"the results store {Path} has no run '{runId}'");
    }

    /// <summary>The run's tasks without a result, in the run's order.</summary>
    internal List<long> MissingTasks(string runId)
    {
        var tasks = RunTasks(runId);
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT task_id FROM results WHERE run_id = $run";
        command.Parameters.AddWithValue("$run", runId);
        using var reader = command.ExecuteReader();
        var done = new HashSet<long>();
        while (reader.Read())
        {
            done.Add(reader.GetInt64(0));
        }
        return tasks.FindAll(t => !done.Contains(t));
    }

    /// <summary>Marks the run finished: completed when every task has a result, interrupted otherwise.</summary>
    internal RunStatus FinishRun(string runId)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE runs SET finished_at = $now,
                status = CASE WHEN (SELECT COUNT(*) FROM results r WHERE r.run_id = $run) < task_count
                              THEN 'interrupted' ELSE 'completed' END
            WHERE id = $run RETURNING status
            """;
        command.Parameters.AddWithValue("$now", FormatTime(DateTimeOffset.UtcNow));
        command.Parameters.AddWithValue("$run", runId);
        return ParseStatus((string)command.ExecuteScalar()!);
    }

    /// <summary>Adds what tasks of a run used through the LLM gateway to what is stored for them.</summary>
    /// <summary>Adds a task's usage to what its run has stored for it (a resume, or calls collected late, add to it).</summary>
    internal const string AddUsageSql = """
        INSERT INTO llm_usage (run_id, task_id, requests, errors, prompt_tokens, completion_tokens, total_tokens, latency_ms_total)
        VALUES ($run, $task, $requests, $errors, $prompt, $completion, $total, $latency)
        ON CONFLICT (run_id, task_id) DO UPDATE SET requests = requests + excluded.requests, errors = errors + excluded.errors,
            prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
            total_tokens = total_tokens + excluded.total_tokens, latency_ms_total = latency_ms_total + excluded.latency_ms_total
        """;

    internal void AddLlmUsage(string runId, IReadOnlyDictionary<long, LlmTaskUsage> usage)
    {
        using var connection = Connect();
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = AddUsageSql;
        var run = command.Parameters.AddWithValue("$run", runId);
        var task = command.Parameters.Add("$task", SqliteType.Integer);
        var requests = command.Parameters.Add("$requests", SqliteType.Integer);
        var errors = command.Parameters.Add("$errors", SqliteType.Integer);
        var prompt = command.Parameters.Add("$prompt", SqliteType.Integer);
        var completion = command.Parameters.Add("$completion", SqliteType.Integer);
        var total = command.Parameters.Add("$total", SqliteType.Integer);
        var latency = command.Parameters.Add("$latency", SqliteType.Real);
        foreach (var (taskId, used) in usage)
        {
            (task.Value, requests.Value, errors.Value, prompt.Value, completion.Value, total.Value, latency.Value) =
                (taskId, used.Requests, used.Errors, used.PromptTokens, used.CompletionTokens, used.TotalTokens, used.LatencyMsTotal);
            command.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    /// <summary>
    /// What each task of a run used through the LLM gateway (environments with <see cref="Environments.EnvironmentOptions.Llm"/>
    /// whose method got the gateway's <c>base_url</c>); empty when none was counted.
    /// </summary>
    public Task<IReadOnlyDictionary<long, LlmTaskUsage>> GetLlmUsageAsync(string runId, CancellationToken cancellationToken = default) =>
        Task.Run<IReadOnlyDictionary<long, LlmTaskUsage>>(() =>
        {
            using var connection = Connect();
            return ReadLlmUsage(connection, runId);
        }, cancellationToken);

    private static Dictionary<long, LlmTaskUsage> ReadLlmUsage(SqliteConnection connection, string runId)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT task_id, requests, errors, prompt_tokens, completion_tokens, total_tokens, latency_ms_total FROM llm_usage WHERE run_id = $run ORDER BY task_id";
        command.Parameters.AddWithValue("$run", runId);
        using var reader = command.ExecuteReader();
        var usage = new Dictionary<long, LlmTaskUsage>();
        while (reader.Read())
        {
            usage[reader.GetInt64(0)] = new LlmTaskUsage(reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetDouble(6));
        }
        return usage;
    }

    /// <summary>Marks a run as running again (a resume).</summary>
    internal void ReopenRun(string runId)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE runs SET status = 'running', finished_at = NULL WHERE id = $run";
        command.Parameters.AddWithValue("$run", runId);
        command.ExecuteNonQuery();
    }

    /// <summary>A writer of one run's results on its own connection.</summary>
    internal ResultWriter OpenWriter(string runId) => new(Connect(), runId, _logger);

    internal static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    internal static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.ParseExact(text, TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    internal static RunStatus ParseStatus(string status) => status switch
    {
        "completed" => RunStatus.Completed,
        "interrupted" => RunStatus.Interrupted,
        _ => RunStatus.Running,
    };

    /// <summary>Nothing to release: every operation opens its own connection and closes it.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "results store {Path} open (schema version {Version})")]
        public static partial void Opened(ILogger logger, string path, int version);
    }
}

/// <summary>
/// Writes one run's results, a batch per transaction, on its own connection. The hot path binds the prepared
/// statements through SQLitePCL (the library under Microsoft.Data.Sqlite) on that connection's handle: ADO.NET's
/// parameter objects cost more per row than SQLite's own insert, and a run of fast tasks writes tens of thousands
/// of rows a second. A result for a task that already has one in the run is not written again (the first stays).
/// </summary>
internal sealed partial class ResultWriter : IDisposable
{
    private const string InsertResult = """
        INSERT INTO results (run_id, task_id, error_kind, error, score, success, value, attempts, started_at, duration_ms, cached_from)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        ON CONFLICT (run_id, task_id) DO NOTHING
        """;

    private const string InsertError = "INSERT INTO errors (result_id, attempt, kind, message) VALUES (?1, ?2, ?3, ?4)";

    private readonly SqliteConnection _connection;
    private readonly sqlite3 _db;
    private readonly ILogger _logger;
    private readonly byte[] _runId;
    private readonly sqlite3_stmt _begin, _commit, _rollback, _insert, _insertError, _addUsage, _addTranscript;

    public ResultWriter(SqliteConnection connection, string runId, ILogger logger)
    {
        _connection = connection;
        _db = connection.Handle!;
        _logger = logger;
        _runId = System.Text.Encoding.UTF8.GetBytes(runId);
        // Another process's transaction on the same file is waited for, as Microsoft.Data.Sqlite's own commands do.
        raw.sqlite3_busy_timeout(_db, 30_000);
        _begin = Prepare("BEGIN IMMEDIATE");
        _commit = Prepare("COMMIT");
        _rollback = Prepare("ROLLBACK");
        _insert = Prepare(InsertResult);
        _insertError = Prepare(InsertError);
        _addUsage = Prepare(ResultStore.AddUsageSql);
        _addTranscript = Prepare(ResultStore.AddTranscriptSql);
    }

    private sqlite3_stmt Prepare(string sql)
    {
        Check(raw.sqlite3_prepare_v2(_db, sql, out var statement));
        return statement;
    }

    /// <summary>Writes <paramref name="batch"/> in one transaction: after a crash, all of it is stored or none.</summary>
    public void Write(IReadOnlyList<TaskResult> batch)
    {
        Step(_begin);
        try
        {
            Span<byte> time = stackalloc byte[32];
            foreach (var result in batch)
            {
                var s = _insert;
                Check(raw.sqlite3_bind_text(s, 1, _runId));
                Check(raw.sqlite3_bind_int64(s, 2, result.TaskId));
                BindText(s, 3, result.Completed ? null : TaskErrorKinds.Name(result.ErrorKind));
                BindText(s, 4, result.Error);
                Check(raw.sqlite3_bind_double(s, 5, result.Score));
                Check(raw.sqlite3_bind_int(s, 6, result.Success ? 1 : 0));
                Check(result.Value is { } value ? raw.sqlite3_bind_text(s, 7, JsonMarshal.GetRawUtf8Value(value)) : raw.sqlite3_bind_null(s, 7));
                Check(raw.sqlite3_bind_int(s, 8, result.Attempts));
                result.StartedAt.UtcDateTime.TryFormat(time, out var length, ResultStore.TimeFormat, CultureInfo.InvariantCulture);
                Check(raw.sqlite3_bind_text(s, 9, time[..length]));
                Check(raw.sqlite3_bind_double(s, 10, result.Duration.TotalMilliseconds));
                Check(result.CachedFrom is { } source ? raw.sqlite3_bind_int64(s, 11, source) : raw.sqlite3_bind_null(s, 11));
                // Not RETURNING: it doubles the cost of an insert; the row id is asked for only when errors need it.
                Step(s);
                long? id = raw.sqlite3_changes(_db) == 1 ? raw.sqlite3_last_insert_rowid(_db) : null;
                if (result.LlmUsage is { } used && !result.FromCache)
                {
                    // With its result: a process killed after this commit loses none of it.
                    Check(raw.sqlite3_bind_text(_addUsage, 1, _runId));
                    Check(raw.sqlite3_bind_int64(_addUsage, 2, result.TaskId));
                    Check(raw.sqlite3_bind_int64(_addUsage, 3, used.Requests));
                    Check(raw.sqlite3_bind_int64(_addUsage, 4, used.Errors));
                    Check(raw.sqlite3_bind_int64(_addUsage, 5, used.PromptTokens));
                    Check(raw.sqlite3_bind_int64(_addUsage, 6, used.CompletionTokens));
                    Check(raw.sqlite3_bind_int64(_addUsage, 7, used.TotalTokens));
                    Check(raw.sqlite3_bind_double(_addUsage, 8, used.LatencyMsTotal));
                    Step(_addUsage);
                }
                if (result.Transcript is { } transcript && !result.FromCache)
                {
                    // Parameters by name: $run, $task, $exchanges, $dropped, $data are 1 to 5 in order of appearance.
                    Check(raw.sqlite3_bind_text(_addTranscript, 1, _runId));
                    Check(raw.sqlite3_bind_int64(_addTranscript, 2, result.TaskId));
                    Check(raw.sqlite3_bind_int(_addTranscript, 3, transcript.Exchanges.Count));
                    Check(raw.sqlite3_bind_int(_addTranscript, 4, transcript.ExchangesDropped));
                    Check(raw.sqlite3_bind_blob(_addTranscript, 5, TranscriptData.Encode(transcript.Exchanges)));
                    Step(_addTranscript);
                }
                if (id is { } resultId)
                {
                    foreach (var error in result.AttemptErrors)
                    {
                        Check(raw.sqlite3_bind_int64(_insertError, 1, resultId));
                        Check(raw.sqlite3_bind_int(_insertError, 2, error.Attempt));
                        BindText(_insertError, 3, TaskErrorKinds.Name(error.Kind));
                        BindText(_insertError, 4, error.Message);
                        Step(_insertError);
                    }
                }
            }
            Step(_commit);
        }
        catch
        {
            raw.sqlite3_step(_rollback);
            raw.sqlite3_reset(_rollback);
            throw;
        }
        Log.BatchWritten(_logger, batch.Count);
    }

    private void BindText(sqlite3_stmt statement, int index, string? text) =>
        Check(text is null ? raw.sqlite3_bind_null(statement, index) : raw.sqlite3_bind_text(statement, index, text));

    private void Step(sqlite3_stmt statement)
    {
        var rc = raw.sqlite3_step(statement);
        raw.sqlite3_reset(statement);
        if (rc != raw.SQLITE_DONE)
        {
            Check(rc);
        }
    }

    private void Check(int rc)
    {
        if (rc is not (raw.SQLITE_OK or raw.SQLITE_DONE or raw.SQLITE_ROW))
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
    }

    public void Dispose()
    {
        _insert.Dispose();
        _insertError.Dispose();
        _addUsage.Dispose();
        _addTranscript.Dispose();
        _begin.Dispose();
        _commit.Dispose();
        _rollback.Dispose();
        _connection.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3002, Level = LogLevel.Trace, Message = "{Count} results written in one transaction")]
        public static partial void BatchWritten(ILogger logger, int count);
    }
}

/// <summary>The store's own JSON (task sets), source-generated.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<long>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(List<long>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class StoreJson : System.Text.Json.Serialization.JsonSerializerContext;
