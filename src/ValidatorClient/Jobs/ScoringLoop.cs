using Affinetes.ValidatorClient.Environments;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Affinetes.ValidatorClient.Jobs;

/// <summary>
/// The validator's loop: a scoring cycle (<see cref="ScoringService.ScoreAsync"/>) every interval, each cycle reading
/// the miners source again. An image whose digest did not change is served from the results store (its tasks are
/// cache hits; no container or deployment is started for it), so only changed images are evaluated again. A cycle
/// starts one interval after the previous one started, at once when that one took longer. A cycle that fails for a
/// reason that may pass (a source or an API that did not answer) is reported and the loop goes on; cancelling ends it
/// between or during cycles (a cycle's environments are released as it stops).
/// </summary>
public sealed class ScoringLoop
{
    private readonly Func<ScoringJob, IProgress<MinerScore>?, IProgress<string>?, CancellationToken, Task<ScoreReport>> _cycle;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <param name="service">Runs each cycle.</param>
    /// <param name="time">The clock the intervals are measured on (a fake one in tests); default the system's.</param>
    /// <param name="loggerFactory">Where failed cycles are logged.</param>
    public ScoringLoop(ScoringService service, TimeProvider? time = null, ILoggerFactory? loggerFactory = null)
        : this(service is null ? throw new ArgumentNullException(nameof(service)) : service.ScoreAsync, time, loggerFactory)
    {
    }

    internal ScoringLoop(Func<ScoringJob, IProgress<MinerScore>?, IProgress<string>?, CancellationToken, Task<ScoreReport>> cycle, TimeProvider? time, ILoggerFactory? loggerFactory)
    {
        _cycle = cycle;
        _time = time ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Affinetes.ValidatorClient.Jobs");
    }

    /// <summary>
    /// Runs cycles of <paramref name="job"/> every <paramref name="every"/> (at least one second) until cancelled, which
    /// ends it with <see cref="OperationCanceledException"/>; <paramref name="cycles"/> hears each cycle's outcome,
    /// <paramref name="scored"/> and <paramref name="notes"/> what a cycle does. A job that cannot run
    /// (<see cref="JobOptionsException"/>) ends the loop at once.
    /// </summary>
    public async Task RunAsync(ScoringJob job, TimeSpan every, IProgress<ScoringCycle>? cycles = null, IProgress<MinerScore>? scored = null,
        IProgress<string>? notes = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (every < TimeSpan.FromSeconds(1))
        {
            throw new JobOptionsException([$"the loop's interval is {every.TotalSeconds:0.###} s; give one of at least 1 s, e.g. 30 minutes"]);
        }
        job.Validate();
        for (var number = 1; ; number++)
        {
            var started = _time.GetUtcNow();
            ScoreReport? report = null;
            string? error = null;
            try
            {
                report = await _cycle(job, scored, notes, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is AffinetesException and not JobOptionsException
                or HttpRequestException or IOException or TimeoutException)
            {
                error = e.Message;
            }
            var next = started + every;
            var now = _time.GetUtcNow();
            if (next < now)
            {
                next = now;
            }
            if (error is not null)
            {
                JobsLog.CycleFailed(_logger, number, error, next.ToString("u", System.Globalization.CultureInfo.InvariantCulture));
            }
            cycles?.Report(new ScoringCycle(number, started, now - started, report, error, next));
            // Measured when the wait starts: a clock moved on meanwhile (a test's fake one) shortens it.
            var wait = next - _time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, _time, cancellationToken);
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
    }
}

/// <summary>One cycle of a <see cref="ScoringLoop"/>.</summary>
/// <param name="Number">1 for the first cycle.</param>
/// <param name="StartedAt">When it started.</param>
/// <param name="Took">How long it took.</param>
/// <param name="Report">Its scores and weights; null when it failed.</param>
/// <param name="Error">Why it failed; null when it did not.</param>
/// <param name="NextAt">When the next cycle starts.</param>
public sealed record ScoringCycle(int Number, DateTimeOffset StartedAt, TimeSpan Took, ScoreReport? Report, string? Error, DateTimeOffset NextAt)
{
    /// <summary>Miners whose every task came from the store (their image did not change since it was evaluated).</summary>
    public int UnchangedMiners => Report?.Miners.Count(m => m.Summary is { } s && s.Tasks > 0 && s.FromCache == s.Tasks) ?? 0;
}
