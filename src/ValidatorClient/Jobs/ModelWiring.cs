using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Jobs;

/// <summary>
/// How an evaluation's environment reaches its model: through the LLM gateway (an isolated network always; an open
/// one when the gateway's upstream is named), else directly, with the API key passed in (a local model's placeholder,
/// or the endpoint's key from this process) and the host's network for a local model. And the kwargs every task gets.
/// </summary>
internal static class ModelWiring
{
    /// <summary>The environment's options with the model side added; <paramref name="loggers"/> hears a key passed into a deployment.</summary>
    public static EnvironmentOptions Wire(EnvironmentOptions environment, ModelEndpoint model, EvaluationJob job, IProgress<string>? notes, ILoggerFactory loggers)
    {
        if (environment.Mode == EnvironmentMode.Url)
        {
            return environment; // its model settings are where it runs
        }
        if (environment.Mode == EnvironmentMode.Basilica)
        {
            return WireBasilica(environment, model, job, notes, loggers);
        }
        var upstream = job.LlmUpstream ?? (environment.Docker.Network.Mode == NetworkMode.Isolated ? model.BaseUrl : null);
        if (upstream is null && job.LlmKeyVariable is not null)
        {
            throw new JobOptionsException(["a key variable for the LLM gateway's upstream was given, but there is no gateway: name its upstream, or isolate the network"]);
        }
        var llm = environment.Llm ?? (upstream is null ? null : new LlmAccessOptions
        {
            Upstream = upstream,
            KeyVariable = job.LlmKeyVariable ?? (job.LlmUpstream is null && model.LocalOnly ? null : model.ApiKeyVariable),
        });
        var variables = new Dictionary<string, string>(environment.EnvVars, StringComparer.Ordinal);
        var keyVariable = model.ApiKeyVariable ?? ModelEndpoint.DefaultApiKeyVariable;
        if (llm is null)
        {
            if (model.LocalOnly)
            {
                variables.TryAdd(keyVariable, model.PlaceholderKey ?? EvaluationJob.LocalModelKey);
            }
            else if (System.Environment.GetEnvironmentVariable(keyVariable) is { Length: > 0 } key)
            {
                variables.TryAdd(keyVariable, key);
            }
            else if (!variables.ContainsKey(keyVariable))
            {
                // Not an error (a local model may need no key), but every task would fail for it with a remote one.
                notes?.Report($"${keyVariable} is not set, so the environment gets no API key for {model.BaseUrl}; export it if the model needs one");
            }
        }
        return environment with
        {
            Llm = llm,
            EnvVars = variables,
            Docker = environment.Docker with { HostNetwork = environment.Docker.HostNetwork || (model.LocalOnly && llm is null) },
        };
    }

    /// <summary>
    /// A deployment far from this machine: the gateway at its public URL (the key stays here), else the key itself
    /// when the options ask for it (said on every run), else no key (a local model's placeholder is harmless).
    /// </summary>
    private static EnvironmentOptions WireBasilica(EnvironmentOptions environment, ModelEndpoint model, EvaluationJob job, IProgress<string>? notes, ILoggerFactory loggers)
    {
        var llm = environment.Llm ?? (job.LlmPublicUrl is not { } publicUrl ? null : new LlmAccessOptions
        {
            Upstream = job.LlmUpstream ?? model.BaseUrl,
            KeyVariable = job.LlmKeyVariable ?? (job.LlmUpstream is null && model.LocalOnly ? null : model.ApiKeyVariable),
            PublicBaseUrl = publicUrl,
            Listen = job.LlmListen,
        });
        var variables = new Dictionary<string, string>(environment.EnvVars, StringComparer.Ordinal);
        var keyVariable = model.ApiKeyVariable ?? ModelEndpoint.DefaultApiKeyVariable;
        if (llm is null && model.LocalOnly)
        {
            variables.TryAdd(keyVariable, model.PlaceholderKey ?? "local-model-takes-any-key");
            notes?.Report($"the local model answers on this machine's {new Uri(model.BaseUrl).Authority}, which a Basilica deployment cannot reach: " +
                "methods that call the model get no answer unless the LLM gateway is given a public URL");
        }
        else if (llm is null && environment.Basilica.PassLlmKey)
        {
            if (System.Environment.GetEnvironmentVariable(keyVariable) is { Length: > 0 } key)
            {
                variables.TryAdd(keyVariable, key);
                var warning = $"warning: the model's API key (${keyVariable}) is passed into the Basilica deployment, where the miner's code can read and spend it; " +
                    "the LLM gateway at a public URL keeps it on this machine";
                notes?.Report(warning);
                JobsLog.KeyPassedIntoDeployment(loggers.CreateLogger("Affinetes.ValidatorClient.Jobs"), warning);
            }
            else
            {
                notes?.Report($"${keyVariable} is not set, so the Basilica deployment gets no API key for {model.BaseUrl}");
            }
        }
        return environment with { Llm = llm, EnvVars = variables };
    }

    /// <summary>
    /// The kwargs every task gets and the run's label: the caller's (typed by the method's parameters), then
    /// <c>base_url</c> and <c>model</c>: an endpoint's always, a local model's where the method declares them; the
    /// gateway's base URL stands for the endpoint when there is a gateway.
    /// </summary>
    public static (Dictionary<string, object?> Kwargs, string? Label) Kwargs(IReadOnlyDictionary<string, object?> given, MethodDescriptor? method, ModelEndpoint model, string? gatewayBaseUrl)
    {
        var types = method?.Parameters.ToDictionary(p => p.Name, p => p.Type, StringComparer.Ordinal) ?? [];
        var kwargs = given.ToDictionary(kv => kv.Key, kv => kv.Value is CommandLineValue typed ? typed.For(types.GetValueOrDefault(kv.Key)) : kv.Value, StringComparer.Ordinal);
        bool Takes(string name) => types.ContainsKey(name);
        var endpoint = !model.LocalOnly || Takes("base_url") ? model.BaseUrl : null;
        var baseUrl = gatewayBaseUrl is { } gateway && (endpoint is not null || Takes("base_url")) ? gateway : endpoint;
        var name = !model.LocalOnly || Takes("model") ? model.Model : null;
        if (baseUrl is not null)
        {
            kwargs.TryAdd("base_url", baseUrl);
        }
        if (name is not null)
        {
            kwargs.TryAdd("model", name);
        }
        var label = kwargs.TryGetValue("model", out var named) && named is string asked
            ? asked == model.Model && model.Label is { } given2 ? given2
                : $"model: {asked}{(endpoint is null ? "" : $" at {endpoint}")}{(baseUrl != endpoint ? " through the LLM gateway" : "")}"
            : null;
        return (kwargs, label);
    }

    /// <summary>The gateway's base URL as the environment's actors reach it (a constant, so kwargs stay equal from run to run).</summary>
    public static string? GatewayBaseUrl(EnvironmentOptions options) => options.Mode switch
    {
        EnvironmentMode.Url => null,
        EnvironmentMode.Basilica => options.Llm?.ResolvedPublicBaseUrl,
        _ => options.Llm is null ? null : Gateway.GatewayAccess.BaseUrl(Gateway.GatewayAccess.RelayPort),
    };
}
