using System.CommandLine;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Commands;
using Affinetes.Baseline;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Afs.Evaluation;

/// <summary>
/// The options that say where an environment's model calls go (<c>--base-url</c>, <c>--model</c>,
/// <c>--api-key-env</c>, <c>--baseline-port</c>), shared by the commands that evaluate, and how they become kwargs,
/// the containers' API key and the run's label. Without <c>--base-url</c> it is the offline baseline.
/// </summary>
internal sealed class ModelSide
{
    public Option<string?> BaseUrl { get; } = new("--base-url") { Description = "OpenAI-compatible endpoint the environment's model calls go to (default: the offline baseline afs serves)" };
    public Option<string?> Model { get; } = new("--model") { Description = "model name passed to the environment (with --base-url)" };
    public Option<string> ApiKeyEnv { get; } = new("--api-key-env") { Description = "variable of afs's environment holding the endpoint's API key; passed into the containers under the same name", DefaultValueFactory = _ => OfflineModel.ApiKeyVariable };
    public Option<int> BaselinePort { get; } = new("--baseline-port") { Description = "port of the offline baseline on 127.0.0.1", DefaultValueFactory = _ => OfflineModel.DefaultPort };
    public Option<string[]> Kw { get; } = new("--kw") { Description = "keyword argument k=v every task gets (repeatable; typed like afs call --arg)", AllowMultipleArgumentsPerToken = false };

    public void AddTo(Command command)
    {
        command.Options.Add(Kw);
        command.Options.Add(BaseUrl);
        command.Options.Add(Model);
        command.Options.Add(ApiKeyEnv);
        command.Options.Add(BaselinePort);
    }

    /// <summary>True when no endpoint was given: the offline baseline answers.</summary>
    public bool UsesBaseline(CommandContext context)
    {
        if (context.Get(BaseUrl) is not { } endpoint)
        {
            return true;
        }
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"--base-url '{endpoint}' is not an http(s) URL; give e.g. https://llm.example/v1");
        }
        return false;
    }

    /// <summary>The API key the containers get: a placeholder for the baseline, else <c>$NAME</c> of <c>--api-key-env</c> when set.</summary>
    public void AddApiKey(CommandContext context, Dictionary<string, string> envVars, bool baseline)
    {
        var keyVariable = context.Get(ApiKeyEnv)!;
        if (baseline)
        {
            envVars.TryAdd(OfflineModel.ApiKeyVariable, OfflineModel.ApiKey);
        }
        else if (Environment.GetEnvironmentVariable(keyVariable) is { Length: > 0 } key)
        {
            envVars.TryAdd(keyVariable, key);
        }
        else if (!envVars.ContainsKey(keyVariable))
        {
            // Not an error (a local model may need no key), but every task would fail for it with a remote one.
            context.Console.Note($"afs {context.Command}: ${keyVariable} is not set, so the environment gets no API key for {context.Get(BaseUrl)}; " +
                $"export it (or name another variable with --api-key-env) if the model needs one");
        }
    }

    /// <summary>
    /// The kwargs every task gets and the run's label: <c>--kw</c> typed by the method's parameters, then
    /// <c>base_url</c> and <c>model</c> (given, or the baseline's) where the method takes them (a host without a
    /// method table gets only what was given).
    /// </summary>
    /// <remarks>With the LLM gateway (<paramref name="environment"/> has one) <c>base_url</c> is the gateway's as the
    /// actor reaches it, and the label names the endpoint behind it.</remarks>
    public (Dictionary<string, object?> Kwargs, string? Label) Kwargs(CommandContext context, MethodDescriptor? method, BaselineServer? baseline, IEnvironment? environment = null)
    {
        var kwargs = CallArguments.Typed(CallArguments.Parse(context.Get(Kw), null, "--kw"), method);
        bool Takes(string name) => method?.Parameters.Any(p => p.Name == name) ?? false;
        var endpoint = context.Get(BaseUrl) ?? (baseline is not null && Takes("base_url") ? baseline.BaseUrl.ToString() : null);
        var baseUrl = environment?.LlmBaseUrl is { } gateway && (endpoint is not null || Takes("base_url")) ? gateway : endpoint;
        var model = context.Get(Model) ?? (baseline is not null && Takes("model") ? BaselineModel.Name : null);
        if (baseUrl is not null)
        {
            kwargs.TryAdd("base_url", baseUrl);
        }
        if (model is not null)
        {
            kwargs.TryAdd("model", model);
        }
        var label = kwargs.TryGetValue("model", out var named) && named is string name
            ? name == BaselineModel.Name ? OfflineModel.Label : $"model: {name}{(endpoint is null ? "" : $" at {endpoint}")}{(baseUrl != endpoint ? " through the LLM gateway" : "")}"
            : null;
        return (kwargs, label);
    }
}
