using System.CommandLine;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Commands;
using Affinetes.ValidatorClient.Jobs;

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

    /// <summary>The endpoint given (<c>--base-url</c>, <c>--model</c>, <c>--api-key-env</c>); null: the offline baseline answers.</summary>
    public ModelEndpoint? Endpoint(CommandContext context) => UsesBaseline(context) ? null : new ModelEndpoint
    {
        BaseUrl = context.Get(BaseUrl)!,
        Model = context.Get(Model),
        ApiKeyVariable = context.Get(ApiKeyEnv),
    };

    /// <summary>The <c>--kw</c> values as typed, for the library to convert by the method's parameter types.</summary>
    public IReadOnlyDictionary<string, object?> GivenKwargs(CommandContext context) =>
        CallArguments.Parse(context.Get(Kw), null, "--kw").ToDictionary(kv => kv.Key, kv => kv.Value is CallArguments.TypedText typed ? new CommandLineValue(typed.Text) : kv.Value, StringComparer.Ordinal);

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
}
