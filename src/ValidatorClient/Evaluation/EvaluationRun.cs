using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Results;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>
/// One run in motion. Workers (as many as the concurrency) take the next task id, run its work through the retry
/// pipeline (<see cref="ITaskWork"/>: one call of the method, or one episode played by a model) and pass the result
/// on; with a store, one writer commits results in batches (whatever accumulated while the previous batch was
/// written, one transaction each) and only then yields them, so what a caller has seen is stored.
/// </summary>
internal sealed partial class EvaluationRun : IEvaluationRun
{
    /// <summary>Results per transaction at most.</summary>
    private const int MaxBatch = 1024;

    /// <summary>
    /// How long the writer lets results accumulate after the first of a batch: a commit costs about as much as a
    /// hundred rows, so fast tasks are stored in batches; a result reaches the caller at most this much later.
    /// </summary>
    private static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(20);

    private readonly IEnvironment _environment;
    private readonly ResultStore? _store;
    private readonly ILogger _logger;
    private readonly KeyValuePair<string, object?>[] _kwargs;
    private readonly IReadOnlyList<TaskResult> _cached;
    private readonly IReadOnlyList<long> _pending;
    private readonly ResiliencePipeline<JsonElement> _pipeline;
    private readonly Stopwatch _clock = new();
    private readonly LlmUsageCollector? _usage;
    private readonly ITaskWork _work;
    private int _next = -1;
    private int _read;
    private int _completed;
    private int _failed;
    private int _inFlight;
    private int _retries;
    private int _fromCache;

    public EvaluationRun(string id, EvaluationRequest request, IReadOnlyDictionary<string, JsonElement> kwargs, IEnvironment environment,
        ResultStore? store, ILogger logger, int alreadyDone, IReadOnlyList<TaskResult> cached, IReadOnlyList<long> pending)
    {
        Id = id;
        Request = request;
        _environment = environment;
        _store = store;
        _logger = logger;
        _kwargs = [.. kwargs.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value))];
        AlreadyDone = alreadyDone;
        _cached = cached;
        _pending = pending;
        _pipeline = BuildPipeline(request, logger);
        // In episode mode the runner calls the model itself and counts its usage; the gateway sees none of it.
        _usage = store is not null && environment.LlmBaseUrl is not null && pending.Count > 0 && request.Episodes is null
            ? new LlmUsageCollector(environment, id, request.RecordTranscripts, logger)
            : null;
        _work = request.Episodes is { } episodes
            ? new EpisodeWork(environment.OpenEnv(), episodes, logger)
            : new CallWork(environment, request.Method);
    }

    public string Id { get; }
    public EvaluationRequest Request { get; }
    public int TaskCount => Request.TaskIds.Count;
    public int AlreadyDone { get; }
    public int CacheHits => _cached.Count;
    public int ToRun => _pending.Count;

    public EvaluationProgress Progress => new(TaskCount, AlreadyDone, Volatile.Read(ref _fromCache), Volatile.Read(ref _completed),
        Volatile.Read(ref _failed), Volatile.Read(ref _inFlight), Volatile.Read(ref _retries), _clock.Elapsed);

    /// <summary>Retries only what <see cref="AffinetesException.IsRetryable"/> says may succeed again; an actor's error never.</summary>
    private ResiliencePipeline<JsonElement> BuildPipeline(EvaluationRequest request, ILogger logger)
    {
        if (request.Retries == 0)
        {
            return ResiliencePipeline<JsonElement>.Empty;
        }
        return new ResiliencePipelineBuilder<JsonElement>()
            .AddRetry(new RetryStrategyOptions<JsonElement>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is AffinetesException { IsRetryable: true }),
                MaxRetryAttempts = request.Retries,
                Delay = request.RetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                MaxDelay = TimeSpan.FromSeconds(60),
                OnRetry = args =>
                {
                    Interlocked.Increment(ref _retries);
                    Log.Retrying(logger, Id, args.Context.Properties.GetValue(TaskKey, -1), args.AttemptNumber + 1,
                        TaskErrorKinds.Name(TaskErrorKinds.Of(args.Outcome.Exception!)), args.Outcome.Exception!.Message, args.RetryDelay.TotalMilliseconds);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    private static readonly ResiliencePropertyKey<long> TaskKey = new("affinetes.task_id");

    public async IAsyncEnumerable<TaskResult> ResultsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _read, 1) != 0)
        {
            throw new InvalidOperationException($"the results of run {Id} are being or were read already; a run's results are read once");
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The reader's continuation runs on the thread that wrote (no thread-pool hop per result); it only drains
        // the channel and yields, and awaits nothing the writer waits for.
        var output = Channel.CreateUnbounded<TaskResult>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });
        _clock.Start();
        Log.Started(_logger, Id, Request.Method, TaskCount, _pending.Count, _cached.Count, AlreadyDone, Request.Concurrency);
        var producing = Task.Run(() => ProduceAsync(output.Writer, stop));
        try
        {
            // Not the caller's token: after a cancellation the results already finished are still stored and read.
            while (await output.Reader.WaitToReadAsync(CancellationToken.None))
            {
                while (output.Reader.TryRead(out var result))
                {
                    yield return result;
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await producing;
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Runs everything and completes <paramref name="output"/>, with the store's failure when there was one; never throws.</summary>
    private async Task ProduceAsync(ChannelWriter<TaskResult> output, CancellationTokenSource stop)
    {
        Exception? failure = null;
        Channel<TaskResult>? toStore = null;
        Task? storing = null;
        ResultWriter? writer = null;
        RunProgressWriter? progress = null;
        try
        {
            var sink = output;
            if (_store is not null)
            {
                writer = _store.OpenWriter(Id);
                progress = new RunProgressWriter(_store, Id, () => Progress, _logger);
                toStore = Channel.CreateUnbounded<TaskResult>(new UnboundedChannelOptions { SingleReader = true });
                var batches = toStore.Reader;
                var resultWriter = writer;
                storing = Task.Factory.StartNew(() => Store(batches, resultWriter, output, stop), CancellationToken.None,
                    TaskCreationOptions.LongRunning, TaskScheduler.Default);
                sink = toStore.Writer;
            }
            if (_usage is not null)
            {
                await _usage.ForgetAsync(_pending);
            }
            foreach (var hit in _cached)
            {
                Interlocked.Increment(ref _fromCache);
                sink.TryWrite(hit);
            }
            var workers = new Task[Math.Min(Request.Concurrency, _pending.Count)];
            for (var i = 0; i < workers.Length; i++)
            {
                workers[i] = Task.Run(() => WorkAsync(sink, stop.Token));
            }
            await Task.WhenAll(workers);
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            toStore?.Writer.TryComplete();
            if (storing is not null)
            {
                try
                {
                    await storing;
                }
                catch (Exception e)
                {
                    failure ??= e;
                }
            }
            writer?.Dispose();
            if (progress is not null)
            {
                await progress.DisposeAsync();
            }
            await RecordLateLlmUsageAsync();
            var status = AlreadyDone + _fromCache + _completed + _failed == TaskCount ? RunStatus.Completed : RunStatus.Interrupted;
            if (_store is not null)
            {
                try
                {
                    status = _store.FinishRun(Id);
                }
                catch (Exception e)
                {
                    failure ??= new ResultStoreException($"run {Id} could not be marked finished in {_store.Path}: {e.Message}", e);
                }
            }
            _clock.Stop();
            Log.Finished(_logger, Id, status, _completed, _failed, _fromCache, _clock.Elapsed.TotalSeconds);
            output.TryComplete(failure);
        }
    }

    /// <summary>Adds what the gateway counted for the run's tasks after their results were stored; a failure is logged, not the run's.</summary>
    private async Task RecordLateLlmUsageAsync()
    {
        if (_usage is null)
        {
            return;
        }
        var late = await _usage.CollectLateAsync(_pending);
        try
        {
            if (late.Count > 0)
            {
                _store!.AddLlmUsage(Id, late.ToDictionary(l => l.Key, l => l.Value.Usage));
                _store.AddTranscripts(Id, late.Where(l => l.Value.Transcript is not null).ToDictionary(l => l.Key, l => l.Value.Transcript!));
            }
        }
        catch (SqliteException e)
        {
            Log.UsageNotRecorded(_logger, Id, e.Message);
        }
    }

    /// <summary>
    /// Commits what accumulated within a window, one transaction per batch, then hands it on; a store failure stops
    /// the run. It runs on a thread of its own: SQLite's work is synchronous, and a pool thread blocked on it would
    /// be missing from the calls' continuations (on two cores, half of the pool).
    /// </summary>
    private void Store(ChannelReader<TaskResult> results, ResultWriter writer, ChannelWriter<TaskResult> output, CancellationTokenSource stop)
    {
        var batch = new List<TaskResult>(MaxBatch);
        try
        {
            while (results.WaitToReadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult())
            {
                if (results.CanCount && results.Count < MaxBatch && !results.Completion.IsCompleted)
                {
                    Thread.Sleep(BatchWindow);
                }
                while (batch.Count < MaxBatch && results.TryRead(out var result))
                {
                    batch.Add(result);
                }
                _usage?.Attach(batch);
                writer.Write(batch);
                foreach (var result in batch)
                {
                    output.TryWrite(result);
                }
                batch.Clear();
            }
        }
        catch (Exception e)
        {
            Log.StoreFailed(_logger, e, Id, _store!.Path);
            stop.Cancel();
            throw new ResultStoreException($"writing results of run {Id} to {_store.Path} failed: {e.Message}; the run stopped (resume it with its id)", e);
        }
    }

    private async Task WorkAsync(ChannelWriter<TaskResult> sink, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            var index = Interlocked.Increment(ref _next);
            if (index >= _pending.Count)
            {
                return;
            }
            Interlocked.Increment(ref _inFlight);
            var result = await RunTaskAsync(_pending[index], token);
            Interlocked.Decrement(ref _inFlight);
            if (result is null)
            {
                return; // cancelled: the task stays missing
            }
            Interlocked.Increment(ref result.Completed ? ref _completed : ref _failed);
            sink.TryWrite(result);
        }
    }

    /// <summary>One task through the pipeline; null when the run was cancelled before it had a result.</summary>
    private async Task<TaskResult?> RunTaskAsync(long taskId, CancellationToken token)
    {
        var kwargs = new Dictionary<string, object?>(_kwargs.Length + 1, StringComparer.Ordinal);
        foreach (var (key, value) in _kwargs)
        {
            kwargs[key] = value;
        }
        kwargs[Request.TaskIdParameter] = taskId;
        if (_environment.LlmBaseUrl is { } gateway && kwargs.TryGetValue("base_url", out var baseUrl) && baseUrl is JsonElement { ValueKind: JsonValueKind.String } url
            && url.GetString() == gateway)
        {
            // The gateway counts the calls made at a task's own base URL for that task (stored with the results).
            kwargs["base_url"] = GatewayRoutes.TaskBaseUrl(gateway, taskId.ToString(CultureInfo.InvariantCulture));
        }
        var call = new TaskCall(_work, taskId, kwargs, Request.TaskTimeout);
        var startedAt = DateTimeOffset.UtcNow;
        var started = Stopwatch.GetTimestamp();
        var context = ResilienceContextPool.Shared.Get(token);
        context.Properties.Set(TaskKey, taskId);
        Outcome<JsonElement> outcome;
        try
        {
            outcome = await _pipeline.ExecuteOutcomeAsync(static (context, call) => call.AttemptAsync(context.CancellationToken), context, call);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
        var duration = Stopwatch.GetElapsedTime(started);
        if (outcome.Exception is { } error)
        {
            if (error is OperationCanceledException && token.IsCancellationRequested)
            {
                return null;
            }
            var kind = TaskErrorKinds.Of(error);
            Log.TaskFailed(_logger, Id, taskId, TaskErrorKinds.Name(kind), call.Attempts, error.Message);
            return new TaskResult
            {
                TaskId = taskId,
                ErrorKind = kind,
                Error = ErrorText.Of(error),
                Value = call.FailedValue,
                Attempts = call.Attempts,
                AttemptErrors = call.Errors,
                StartedAt = startedAt,
                Duration = duration,
                LlmUsage = call.Usage,
            };
        }
        var (score, success) = ScoreRule.Read(outcome.Result);
        return new TaskResult
        {
            TaskId = taskId,
            Score = score,
            Success = success,
            Value = outcome.Result,
            Attempts = call.Attempts,
            AttemptErrors = call.Errors,
            StartedAt = startedAt,
            Duration = duration,
            LlmUsage = call.Usage,
        };
    }

    internal static partial class Log
    {
        [LoggerMessage(EventId = 2001, Level = LogLevel.Information,
            Message = "run {RunId}: {Method} on {Total} tasks, {ToRun} to run ({Cached} from the cache, {AlreadyDone} done before), {Concurrency} at a time")]
        public static partial void Started(ILogger logger, string runId, string method, int total, int toRun, int cached, int alreadyDone, int concurrency);

        [LoggerMessage(EventId = 2002, Level = LogLevel.Debug,
            Message = "run {RunId}: task {TaskId} attempt {Attempt} failed ({Kind}: {Error}); retrying in {DelayMs:0} ms")]
        public static partial void Retrying(ILogger logger, string runId, long taskId, int attempt, string kind, string error, double delayMs);

        [LoggerMessage(EventId = 2003, Level = LogLevel.Debug, Message = "run {RunId}: task {TaskId} failed after {Attempts} attempt(s): {Kind}: {Error}")]
        public static partial void TaskFailed(ILogger logger, string runId, long taskId, string kind, int attempts, string error);

        [LoggerMessage(EventId = 2004, Level = LogLevel.Information,
            Message = "run {RunId} {Status}: {Completed} completed, {Failed} failed, {Cached} from the cache, in {Seconds:0.0} s")]
        public static partial void Finished(ILogger logger, string runId, RunStatus status, int completed, int failed, int cached, double seconds);

        [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "run {RunId}: the LLM gateway's usage could not be stored: {Reason}")]
        public static partial void UsageNotRecorded(ILogger logger, string runId, string reason);

        [LoggerMessage(EventId = 2005, Level = LogLevel.Error, Message = "run {RunId}: writing results to {Path} failed; stopping the run")]
        public static partial void StoreFailed(ILogger logger, Exception error, string runId, string path);
    }
}
