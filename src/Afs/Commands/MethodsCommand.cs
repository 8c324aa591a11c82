using System.CommandLine;
using Affinetes.Afs.Cli;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs methods NAME | --url URL</c>: the environment's methods with their signatures, parameters and docstrings.</summary>
internal sealed class MethodsCommand : AfsCommand
{
    private static readonly TimeSpan ReadyWait = TimeSpan.FromSeconds(30);

    private readonly Argument<string?> _name = new("name") { Description = "the environment's name (afs ps lists them)", Arity = ArgumentArity.ZeroOrOne };
    private readonly Option<string?> _url = new("--url") { Description = "ask a host at this URL instead, e.g. http://127.0.0.1:8000" };
    private readonly Option<string?> _authToken = new("--auth-token") { Description = "bearer token the environment requires (default: $AFFINETES_AUTH_TOKEN)" };
    private readonly Option<string> _mode = BasilicaAccess.ModeOption();
    private readonly Option<string?> _apiUrl = BasilicaAccess.ApiUrlOption();

    public MethodsCommand()
        : base("methods", "List an environment's methods: signatures, parameters and docstrings.")
    {
        Arguments.Add(_name);
        Options.Add(_url);
        Options.Add(_authToken);
        Options.Add(_mode);
        Options.Add(_apiUrl);
        AddHostOption("repeatable: any running replica on them answers");
    }

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var name = context.Get(_name);
        var url = context.Get(_url);
        if ((name is null) == (url is null))
        {
            throw new UsageException("name the environment (afs methods NAME; afs ps lists them) or give --url URL, not both");
        }
        var token = context.Get(_authToken) ?? (Environment.GetEnvironmentVariable("AFFINETES_AUTH_TOKEN") is { Length: > 0 } t ? t : null);
        await using var environment = url is not null
            ? await AffinetesClient.LoadEnvAsync(new EnvironmentOptions
            {
                Mode = EnvironmentMode.Url,
                BaseUrls = [url],
                AuthToken = token,
                ReadyTimeout = ReadyWait,
            }, context.LoggerFactory, cancellationToken)
            : BasilicaAccess.IsBasilica(context, _mode)
                ? await BasilicaAccess.ConnectAsync(context, _apiUrl, name!, token, ReadyWait, cancellationToken)
                : await RunningReplicas.ConnectToFirstReadyAsync(name!, context, token, ReadyWait, cancellationToken);
        var methods = await environment.ListMethodsAsync(cancellationToken);
        var console = context.Console;
        if (context.Json)
        {
            console.WriteJson(methods);
            return ExitCodes.Ok;
        }
        foreach (var method in methods)
        {
            console.Line($"{(method.IsAsync ? "async " : "")}{method.Name}{method.Signature}");
            foreach (var parameter in method.Parameters)
            {
                var type = parameter.Type ?? "any";
                var requirement = parameter.Required ? "required" : parameter.Default is { } d ? $"default {d.GetRawText()}" : "optional";
                console.Line($"    {parameter.Name}: {type}, {requirement}");
            }
            if (!string.IsNullOrWhiteSpace(method.Description))
            {
                foreach (var line in method.Description.Split('\n'))
                {
                    console.Line($"    | {line}");
                }
            }
            console.Line();
        }
        return ExitCodes.Ok;
    }
}
