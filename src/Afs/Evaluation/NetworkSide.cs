using System.CommandLine;
using Affinetes.Afs.Cli;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Afs.Evaluation;

/// <summary>
/// <c>--network isolated|open|allow:HOST[,HOST...]</c>, <c>--llm-upstream URL</c> and <c>--llm-key-env NAME</c>: what
/// the containers may reach, and the LLM gateway afs starts for them. The default network differs by command:
/// isolated for the validator's commands (<c>eval</c>, <c>score</c>), open for a miner's own <c>run</c>.
/// </summary>
internal sealed class NetworkSide
{
    /// <summary>The variable the upstream's key is read from unless <c>--llm-key-env</c> names another.</summary>
    public const string DefaultKeyVariable = "CHUTES_API_KEY";

    public NetworkSide(string defaultNetwork, string why)
    {
        Network = new("--network")
        {
            Description = "what the containers may reach: isolated (no network at all; the model only through afs's LLM gateway, " +
                "which keeps the real API key), open (the engine's default network), allow:HOST[,HOST...] (isolated, plus HTTPS " +
                $"to those hosts through the gateway's proxy). Default: {defaultNetwork} ({why})",
            DefaultValueFactory = _ => defaultNetwork,
        };
    }

    public Option<string> Network { get; }
    public Option<string?> LlmUpstream { get; } = new("--llm-upstream") { Description = "OpenAI-compatible API the LLM gateway forwards the environment's model calls to (e.g. https://llm.chutes.ai/v1); the containers get the gateway's base URL and a token of their own, never the key" };
    public Option<string?> LlmKeyEnv { get; } = new("--llm-key-env") { Description = $"variable of afs's environment holding the upstream's API key, read by the gateway only (default {DefaultKeyVariable})" };

    public void AddTo(Command command)
    {
        command.Options.Add(Network);
        command.Options.Add(LlmUpstream);
        command.Options.Add(LlmKeyEnv);
    }

    /// <summary>The network asked for; a bad value is a usage error saying what is accepted.</summary>
    public ContainerNetwork Parse(CommandContext context)
    {
        try
        {
            return ContainerNetwork.Parse(context.Get(Network)!);
        }
        catch (EnvironmentOptionsException e)
        {
            throw new UsageException($"--network: {e.Message}");
        }
    }

    /// <summary>
    /// Checks the options before anything starts: the network's form, the upstream's URL, the key's variable, and that
    /// an isolated network or a gateway is asked of this machine's engine only (containers and the gateway meet through
    /// bind-mounted unix sockets). Returns the network.
    /// </summary>
    public ContainerNetwork Check(CommandContext context, IReadOnlyList<string> engines)
    {
        var network = Parse(context);
        var upstream = context.Get(LlmUpstream);
        if (upstream is not null && (!Uri.TryCreate(upstream, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            throw new UsageException($"--llm-upstream '{upstream}' is not an http(s) URL; give e.g. https://llm.chutes.ai/v1 or http://127.0.0.1:8001/v1");
        }
        if (context.Get(LlmKeyEnv) is { } keyVariable && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(keyVariable)))
        {
            throw new UsageException($"--llm-key-env {keyVariable}: ${keyVariable} is not set; export the upstream's API key in it");
        }
        var gateway = upstream is not null || network.Mode == NetworkMode.Isolated;
        if (gateway && engines.FirstOrDefault(h => !EnvironmentOptions.IsLocalEngine(h)) is { } remote)
        {
            throw new UsageException($"--network {network}{(upstream is null ? "" : " with --llm-upstream")} needs the Docker engine of this machine (containers and the LLM gateway meet through bind-mounted unix sockets), and {remote} is another; " +
                $"run afs on that machine, or give --network open{(upstream is null ? "" : " without --llm-upstream")} (the containers then have open egress and get the API key itself)");
        }
        return network;
    }

    /// <summary>
    /// The gateway's upstream: <c>--llm-upstream</c>, else (isolated networks need the gateway for any model)
    /// <paramref name="fallback"/>, the endpoint the model calls would otherwise go to. Null: no gateway.
    /// </summary>
    public LlmAccessOptions? Llm(CommandContext context, ContainerNetwork network, string? fallback, string? fallbackKeyVariable)
    {
        var upstream = context.Get(LlmUpstream) ?? (network.Mode == NetworkMode.Isolated ? fallback : null);
        if (upstream is null)
        {
            if (context.Get(LlmKeyEnv) is not null)
            {
                throw new UsageException("--llm-key-env names the key of the LLM gateway's upstream; give --llm-upstream URL too (or --network isolated)");
            }
            if (network.EgressHosts.Count > 0)
            {
                throw new UsageException($"--network {network} goes through the LLM gateway's proxy; give --llm-upstream URL too");
            }
            return null;
        }
        return new LlmAccessOptions { Upstream = upstream, KeyVariable = context.Get(LlmKeyEnv) ?? fallbackKeyVariable };
    }
}
