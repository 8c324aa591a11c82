using System.Threading.RateLimiting;
using Affinetes.LlmGateway.Transcripts;
using Affinetes.LlmGateway.Usage;
using Affinetes.Protocol;

namespace Affinetes.LlmGateway.Tenants;

/// <summary>One registered environment: its policy, its limiters and its usage.</summary>
internal sealed class Tenant : IDisposable
{
    private readonly HashSet<string>? _allowedModels;
    private readonly ConcurrencyLimiter? _concurrency;
    private readonly TokenBucketRateLimiter? _rate;
    private readonly IReadOnlyList<EgressRule> _egress;

    internal Tenant(GatewayTenant policy, string token)
    {
        Policy = policy;
        Token = token;
        _allowedModels = policy.AllowedModels is { Count: > 0 } models ? new HashSet<string>(models, StringComparer.Ordinal) : null;
        if (policy.MaxConcurrency is { } concurrency)
        {
            _concurrency = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = concurrency, QueueLimit = 0 });
        }
        if (policy.RequestsPerMinute is { } perMinute)
        {
            // A bucket of one minute's requests, refilled evenly: bursts up to the limit, the limit per minute on average.
            _rate = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = perMinute,
                TokensPerPeriod = 1,
                ReplenishmentPeriod = TimeSpan.FromMinutes(1) / perMinute,
                QueueLimit = 0,
                AutoReplenishment = true,
            });
        }
        Transcripts = policy.RecordExchanges == false ? null : new TranscriptRecorder(TranscriptBounds.Default);
        _egress = [.. (policy.EgressHosts ?? []).Select(h => EgressRule.TryParse(h, out var rule) ? rule : throw new ArgumentException(h))];
    }

    public string Name => Policy.Name;

    /// <summary>The registration, without its token.</summary>
    public GatewayTenant Policy { get; }

    internal string Token { get; }

    public UsageMeter Usage { get; } = new();

    /// <summary>Each task's exchanges until collected; null when the registration turned recording off.</summary>
    internal TranscriptRecorder? Transcripts { get; }

    /// <summary>Whether the environment may use <paramref name="model"/>.</summary>
    public bool AllowsModel(string? model) => _allowedModels is null || (model is not null && _allowedModels.Contains(model));

    /// <summary>Whether the token budget is spent.</summary>
    public bool BudgetExhausted => Policy.BudgetTokens is { } budget && Usage.TotalTokens >= budget;

    /// <summary>A slot within the concurrency limit (dispose it when the request ends), or null when none is free.</summary>
    public RateLimitLease? TryEnter()
    {
        if (_concurrency is null)
        {
            return NoLimit.Instance;
        }
        var lease = _concurrency.AttemptAcquire();
        if (lease.IsAcquired)
        {
            return lease;
        }
        lease.Dispose();
        return null;
    }

    /// <summary>A permit within the request rate, or false with how long until the next one.</summary>
    public bool TryTakeRequest(out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (_rate is null)
        {
            return true;
        }
        using var lease = _rate.AttemptAcquire();
        if (lease.IsAcquired)
        {
            return true;
        }
        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : Policy.RequestsPerMinute is { } perMinute ? TimeSpan.FromMinutes(1) / perMinute : TimeSpan.FromSeconds(1);
        return false;
    }

    /// <summary>Whether a CONNECT tunnel to <paramref name="host"/>:<paramref name="port"/> is allowed.</summary>
    public bool AllowsEgress(string host, int port) => _egress.Any(r => r.Matches(host, port));

    public void Dispose()
    {
        _concurrency?.Dispose();
        _rate?.Dispose();
    }

    /// <summary>The lease of an environment without a concurrency limit.</summary>
    private sealed class NoLimit : RateLimitLease
    {
        public static readonly NoLimit Instance = new();

        public override bool IsAcquired => true;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}
