using System.Collections.Concurrent;
using System.Security.Cryptography;
using Affinetes.Protocol;

namespace Affinetes.LlmGateway.Environments;

/// <summary>The environments the gateway serves, found by the token they present or by name.</summary>
public interface IEnvironmentRegistry
{
    /// <summary>Registers <paramref name="policy"/>, generating its token when it has none. Throws <see cref="RegistrationException"/> for bad or clashing input.</summary>
    GatewayEnvironmentCreated Register(GatewayEnvironment policy);

    /// <summary>Removes an environment; its token stops working at once. False when there is none of that name.</summary>
    bool Remove(string name);

    /// <summary>The environment whose token is <paramref name="token"/>, or null.</summary>
    TenantEnvironment? FindByToken(string token);

    /// <summary>The environment named <paramref name="name"/>, or null.</summary>
    TenantEnvironment? FindByName(string name);

    /// <summary>Every registered environment, by name.</summary>
    IReadOnlyList<TenantEnvironment> All { get; }
}

/// <summary>A registration the gateway refused; <see cref="Conflict"/> when the name or token is taken.</summary>
public sealed class RegistrationException(string message, bool conflict = false) : Exception(message)
{
    public bool Conflict { get; } = conflict;
}

internal sealed class EnvironmentRegistry : IEnvironmentRegistry
{
    /// <summary>Shortest token accepted from a caller; generated ones are 43 characters (256 random bits).</summary>
    private const int MinTokenLength = 24;

    private readonly ConcurrentDictionary<string, TenantEnvironment> _byToken = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TenantEnvironment> _byName = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public IReadOnlyList<TenantEnvironment> All => [.. _byName.Values.OrderBy(e => e.Name, StringComparer.Ordinal)];

    public GatewayEnvironmentCreated Register(GatewayEnvironment policy)
    {
        Validate(policy);
        var token = policy.Token ?? "afgw-" + Base64UrlToken();
        var environment = new TenantEnvironment(policy with { Token = null }, token);
        lock (_gate)
        {
            if (_byName.ContainsKey(policy.Name))
            {
                environment.Dispose();
                throw new RegistrationException($"an environment named '{policy.Name}' is registered already; remove it first (DELETE {GatewayRoutes.Environments}/{policy.Name}) or choose another name", conflict: true);
            }
            if (_byToken.ContainsKey(token))
            {
                environment.Dispose();
                throw new RegistrationException("that token is in use by another environment; give each environment its own", conflict: true);
            }
            _byName[policy.Name] = environment;
            _byToken[token] = environment;
        }
        return new GatewayEnvironmentCreated { Name = policy.Name, Token = token };
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

    public TenantEnvironment? FindByToken(string token) => _byToken.GetValueOrDefault(token);

    public TenantEnvironment? FindByName(string name) => _byName.GetValueOrDefault(name);

    private static string Base64UrlToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static void Validate(GatewayEnvironment policy)
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
