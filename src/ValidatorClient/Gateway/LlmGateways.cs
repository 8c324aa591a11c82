using System.Collections.Concurrent;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Gateway;

/// <summary>
/// The LLM gateways of one client: one process per upstream, key variable and TCP address, started when the first environment
/// asks for it and stopped when the client is disposed. Each environment is registered with its limits and gets a
/// token of its own, removed when the environment is released.
/// </summary>
internal sealed class LlmGateways(ILoggerFactory loggerFactory) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Task<LlmGatewayProcess>>> _gateways = new(StringComparer.Ordinal);

    /// <summary>Registers the environment <paramref name="environmentName"/> with the gateway its options name (started if need be).</summary>
    public async Task<GatewayAccess> RegisterAsync(EnvironmentOptions options, string environmentName, CancellationToken cancellationToken)
    {
        var access = options.Llm!;
        var gateway = await GatewayAsync(access, cancellationToken);
        var name = $"{new string([.. environmentName.Split('/').Last().Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-').Take(48)])}-{Guid.NewGuid().ToString("N")[..8]}";
        var token = await gateway.RegisterAsync(new GatewayTenant
        {
            Name = name,
            AllowedModels = access.AllowedModels.Count == 0 ? null : access.AllowedModels,
            MaxConcurrency = access.MaxConcurrency,
            RequestsPerMinute = access.RequestsPerMinute,
            MaxTokensPerRequest = access.MaxTokensPerRequest,
            BudgetTokens = access.BudgetTokens,
            EgressHosts = options.Docker.Network.EgressHosts.Count == 0 ? null : options.Docker.Network.EgressHosts,
            RecordExchanges = access.RecordExchanges ? null : false,
        }, cancellationToken);
        return new GatewayAccess(gateway, name, token, options.Docker.Network.EgressHosts, access.ResolvedPublicBaseUrl);
    }

    private async Task<LlmGatewayProcess> GatewayAsync(LlmAccessOptions access, CancellationToken cancellationToken)
    {
        var key = $"{access.Upstream}\n{access.KeyVariable}\n{access.GatewayExecutable}\n{access.ResolvedListen}";
        while (true)
        {
            var entry = _gateways.GetOrAdd(key, _ => new Lazy<Task<LlmGatewayProcess>>(
                () => LlmGatewayProcess.StartAsync(access, loggerFactory.CreateLogger("Affinetes.ValidatorClient.LlmGateway"), CancellationToken.None)));
            LlmGatewayProcess gateway;
            try
            {
                gateway = await entry.Value.WaitAsync(cancellationToken);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // A start that failed is not kept: the next environment tries again.
                _gateways.TryRemove(new KeyValuePair<string, Lazy<Task<LlmGatewayProcess>>>(key, entry));
                throw;
            }
            if (gateway.IsRunning)
            {
                return gateway;
            }
            // It died (killed, crashed): its environments lost it; a new one serves the next.
            if (_gateways.TryRemove(new KeyValuePair<string, Lazy<Task<LlmGatewayProcess>>>(key, entry)))
            {
                await gateway.DisposeAsync();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var entry in _gateways.Values)
        {
            if (entry.IsValueCreated && entry.Value.IsCompletedSuccessfully)
            {
                await entry.Value.Result.DisposeAsync();
            }
        }
        _gateways.Clear();
    }
}
