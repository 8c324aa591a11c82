using System.Collections.Concurrent;
using System.Security.Cryptography;
using Affinetes.Protocol;

namespace Affinetes.LlmGateway.Tenants;

/// <summary>The environments the gateway serves, found by the token they present or by name.</summary>
internal interface ITenantRegistry
{
    /// <summary>Registers <paramref name="policy"/>, generating its token when it has none. Throws <see cref="RegistrationException"/> for bad or clashing input.</summary>
    GatewayTenantCreated Register(GatewayTenant policy);

    /// <summary>Removes an environment; its token stops working at once. False when there is none of that name.</summary>
    bool Remove(string name);

    /// <summary>The environment whose token is <paramref name="token"/>, or null.</summary>
    Tenant? FindByToken(string token);

    /// <summary>The environment named <paramref name="name"/>, or null.</summary>
    Tenant? FindByName(string name);

    /// <summary>Every registered environment, by name.</summary>
    IReadOnlyList<Tenant> All { get; }
}

/// <summary>A registration the gateway refused; <see cref="Conflict"/> when the name or token is taken.</summary>
internal sealed class RegistrationException(string message, bool conflict = false) : Exception(message)
{
    public bool Conflict { get; } = conflict;
}

internal sealed class TenantRegistry : ITenantRegistry
{
    /// <summary>Shortest token accepted from a caller; generated ones are 43 characters (256 random bits).</summary>
    private const int MinTokenLength = 24;

    private readonly ConcurrentDictionary<string, Tenant> _byToken = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Tenant> _byName = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public IReadOnlyList<Tenant> All => [.. _byName.Values.OrderBy(e => e.Name, StringComparer.Ordinal)];

    public GatewayTenantCreated Register(GatewayTenant policy)
    {
        Validate(policy);
        var token = policy.Token ?? "afgw-" + Base64UrlToken();
        var environment = new Tenant(policy with { Token = null }, token);
        lock (_gate)
        {
            if (_byName.ContainsKey(policy.Name))
            {
                environment.Dispose();
                throw new RegistrationException($"an environment named '{policy.Name}' is registered already; remove it first (DELETE {GatewayRoutes.Tenants}/{policy.Name}) or choose another name", conflict: true);
            }
            if (_byToken.ContainsKey(token))
            {
                environment.Dispose();
                throw new RegistrationException("that token is in use by another environment; give each environment its own", conflict: true);
            }
            _byName[policy.Name] = environment;
            _byToken[token] = environment;
        }
        return new GatewayTenantCreated { Name = policy.Name, Token = token };
    }

    public bool Remove(string name)
    {
        lock (_gate)
        {
            if (!_byName.TryRemove(name, out var environment))
            {
                return false;
            }
            _byToken.TryRemove(environment.Token, out _);
            environment.Dispose();
            return true;
        }
    }

    public Tenant? FindByToken(string token) => _byToken.GetValueOrDefault(token);

    public Tenant? FindByName(string name) => _byName.GetValueOrDefault(name);

    private static string Base64UrlToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static void Validate(GatewayTenant policy)
    {
        if (string.IsNullOrEmpty(policy.Name) || policy.Name.Length > 128 || !policy.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new RegistrationException($"environment name '{policy.Name}' must be 1 to 128 letters, digits, '.', '_' or '-'");
        }
        if (policy.Token is { } token && (token.Length < MinTokenLength || token.Any(c => c <= ' ' || c > '~')))
        {
            throw new RegistrationException($"the token of '{policy.Name}' must be at least {MinTokenLength} printable ASCII characters without spaces; leave it out to have one generated");
        }
        Positive(policy.MaxConcurrency, "max_concurrency");
        Positive(policy.RequestsPerMinute, "requests_per_minute");
        Positive(policy.MaxTokensPerRequest, "max_tokens_per_request");
        if (policy.BudgetTokens is < 0)
        {
            throw new RegistrationException($"budget_tokens of '{policy.Name}' is {policy.BudgetTokens}; use 0 or more tokens (null for no budget)");
        }
        if (policy.AllowedModels?.Any(string.IsNullOrWhiteSpace) == true)
        {
            throw new RegistrationException($"allowed_models of '{policy.Name}' has an empty name");
        }
        foreach (var host in policy.EgressHosts ?? [])
        {
            if (!EgressRule.TryParse(host, out _))
            {
                throw new RegistrationException($"egress host '{host}' of '{policy.Name}' is not HOST, HOST:PORT or *.DOMAIN[:PORT]");
            }
        }

        void Positive(int? value, string field)
        {
            if (value is <= 0)
            {
                throw new RegistrationException($"{field} of '{policy.Name}' is {value}; use a number above 0 (null for no limit)");
            }
        }
    }
}
