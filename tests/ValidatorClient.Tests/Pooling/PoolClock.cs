using System.Collections.Concurrent;
using Affinetes.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Affinetes.ValidatorClient.Tests.Pooling;

/// <summary>
/// Fake time for a pool whose replicas are real servers. The pool's probes, deadlines and waits run on <see cref="Time"/>;
/// <see cref="AdvanceUntilAsync"/> moves it a <see cref="Step"/> at a time (shorter than any timeout the tests set), and
/// before each step lets the real work finish: every request in flight that its server will answer (not those a hung
/// host holds) and every host starting or stopping. So fake time never overtakes an answer on its way, and a probe or a
/// call fails only when its server really did not answer.
/// </summary>
internal sealed class PoolClock
{
    private readonly ConcurrentDictionary<InFlight, byte> _inFlight = new();

    public PoolClock(ScriptedBackend? backend = null, FakeTimeProvider? time = null)
    {
        Time = time ?? new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(1));
        Backend = backend;
    }

    public FakeTimeProvider Time { get; }

    /// <summary>The backend whose hosts may hold requests or be starting; set once it exists.</summary>
    public ScriptedBackend? Backend { get; set; }

    public TimeSpan Step { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The pool's HTTP handler: real sockets, each request noted while it is in flight.</summary>
    public HttpMessageHandler CreateHandler() => new Tracking(this);

    /// <summary>
    /// Advances the pool's time until <paramref name="condition"/> holds; fails when it does not within
    /// <paramref name="limit"/> of the pool's time (default a minute), or when real work stalls for <see cref="Bounded.Default"/>.
    /// </summary>
    public async Task AdvanceUntilAsync(Func<bool> condition, string what, TimeSpan? limit = null)
    {
        var budget = limit ?? TimeSpan.FromMinutes(1);
        var start = Time.GetUtcNow();
        using var stalled = new CancellationTokenSource(Bounded.Default); // real time: a request or a host that never finishes
        while (true)
        {
            await SettleAsync(what, stalled.Token);
            if (condition())
            {
                return;
            }
            if (Time.GetUtcNow() - start >= budget)
            {
                throw new TimeoutException($"{what} did not happen within {budget.TotalSeconds:0.#} s of the pool's time");
            }
            Time.Advance(Step);
            await Task.Delay(1); // a breath for the continuations the step released, before the next settles

        }
    }

    /// <summary>Advances the pool's time by <paramref name="by"/>, step by step, letting real work finish at each.</summary>
    public async Task AdvanceAsync(TimeSpan by)
    {
        var until = Time.GetUtcNow() + by;
        await AdvanceUntilAsync(() => Time.GetUtcNow() >= until, $"advancing {by.TotalMilliseconds:0} ms", by + Step);
    }

    /// <summary>Waits until the requests in flight now are answered or held, and no host is starting or stopping.</summary>
    private async Task SettleAsync(string what, CancellationToken stalled)
    {
        var requests = _inFlight.Keys.ToArray();
        while (true)
        {
            var waiting = requests.FirstOrDefault(r => !r.Answered && Backend?.Holds(r.Uri) != true);
            if (waiting is null && Backend?.Busy != true)
            {
                return;
            }
            try
            {
                await Task.Delay(1, stalled);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{what}: {(waiting is null ? "a host's start or stop" : $"the request to {waiting.Uri}")} did not finish within {Bounded.Default.TotalSeconds:0} s of real time");
            }
        }
    }

    private sealed class InFlight(Uri uri)
    {
        private int _answered;

        public Uri Uri { get; } = uri;

        public bool Answered => Volatile.Read(ref _answered) != 0;

        public void Answer() => Volatile.Write(ref _answered, 1);
    }

    private sealed class Tracking(PoolClock clock) : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var noted = new InFlight(request.RequestUri!);
            clock._inFlight[noted] = 0;
            try
            {
                return await base.SendAsync(request, cancellationToken);
            }
            finally
            {
                noted.Answer();
                clock._inFlight.TryRemove(noted, out _);
            }
        }
    }
}
