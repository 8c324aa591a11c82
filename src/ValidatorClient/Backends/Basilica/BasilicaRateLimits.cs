using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;

namespace Affinetes.ValidatorClient.Backends.Basilica;

/// <summary>
/// One token bucket per API and key in this process: Basilica limits a key (about 60 requests a minute), not a
/// client object, so every environment, deployments list and sweep of this process that uses the same key shares
/// the same bucket. Requests past it wait in order; none is refused.
/// </summary>
internal static class BasilicaRateLimits
{
    private static readonly ConcurrentDictionary<string, TokenBucketRateLimiter> Buckets = new(StringComparer.Ordinal);

    /// <summary>The bucket of <paramref name="apiRoot"/> and <paramref name="token"/> at this rate and burst (the key only as its hash).</summary>
    public static RateLimiter For(string apiRoot, string token, double perSecond, int burst)
    {
        var key = $"{apiRoot}\n{Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)))}\n{perSecond.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}\n{burst}";
        return Buckets.GetOrAdd(key, _ => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1 / perSecond),
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        }));
    }
}
