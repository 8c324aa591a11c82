using System.CommandLine;
using Affinetes.ValidatorClient.Backends.Basilica;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Afs.Cli;

/// <summary>
/// What the commands that reach Basilica share: <c>--mode docker|basilica</c>, <c>--api-url</c>, the key from
/// <c>$BASILICA_API_TOKEN</c> only (a key on the command line would show in process lists and shell history), and
/// the API client the library uses.
/// </summary>
internal static class BasilicaAccess
{
    public const string Docker = "docker";
    public const string Basilica = "basilica";

    /// <summary><c>--mode</c>: where the environment runs.</summary>
    public static Option<string> ModeOption()
    {
        var option = new Option<string>("--mode") { Description = "where the environment runs: docker (default) or basilica (key in $BASILICA_API_TOKEN)", DefaultValueFactory = _ => Docker };
        option.AcceptOnlyFromAmong(Docker, Basilica);
        return option;
    }

    /// <summary><c>--api-url</c>: the Basilica API (default <c>$BASILICA_API_URL</c>, else the public API).</summary>
    public static Option<string?> ApiUrlOption() => new("--api-url")
    {
        Description = $"the Basilica API (default: $BASILICA_API_URL, else {BasilicaOptions.DefaultApiUrl})",
    };

    public static bool IsBasilica(CommandContext context, Option<string> mode) => context.Get(mode) == Basilica;

    /// <summary>The library's Basilica options for this command; a missing key is said in afs's words, other problems by the library's validation.</summary>
    public static BasilicaOptions Options(CommandContext context, Option<string?> apiUrl, TimeSpan? ttl = null)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("BASILICA_API_TOKEN")))
        {
            throw new UsageException("--mode basilica needs your Basilica API key in $BASILICA_API_TOKEN (export BASILICA_API_TOKEN=basilica_...; afs never takes it on the command line)");
        }
        return new BasilicaOptions
        {
            ApiUrl = context.Get(apiUrl),
            Ttl = ttl,
        };
    }

    /// <summary>This user's deployments on the API the command names; the options' validation says what is missing (the key ...).</summary>
    public static BasilicaDeployments Connect(CommandContext context, Option<string?> apiUrl)
    {
        try
        {
            return new BasilicaDeployments(Options(context, apiUrl), context.LoggerFactory.CreateLogger("afs.basilica"));
        }
        catch (EnvironmentOptionsException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>
    /// The running deployment called <paramref name="name"/> (the name given to <c>afs run --name</c>, or Basilica's
    /// own), through the library's connect-only load: called at its URL, never deleted by this command.
    /// </summary>
    public static async Task<IEnvironment> ConnectAsync(CommandContext context, Option<string?> apiUrl, string name, string? token, TimeSpan readyWait, CancellationToken cancellationToken)
    {
        var options = new EnvironmentOptions
        {
            Mode = EnvironmentMode.Basilica,
            ConnectOnly = true,
            ContainerName = name,
            Cleanup = false,
            AuthToken = token,
            ReadyTimeout = readyWait,
            Basilica = Options(context, apiUrl),
        };
        try
        {
            options.Validate();
        }
        catch (EnvironmentOptionsException e)
        {
            throw new UsageException(e.Message);
        }
        return await ValidatorClient.AffinetesClient.LoadEnvAsync(options, context.LoggerFactory, cancellationToken);
    }

    /// <summary>Where the deployment the user calls <paramref name="name"/> (the name given to afs run, or Basilica's) answers.</summary>
    public static async Task<string> UrlOfAsync(CommandContext context, Option<string?> apiUrl, string name, CancellationToken cancellationToken)
    {
        using var deployments = Connect(context, apiUrl);
        var deployment = await deployments.FindAsync(name, cancellationToken);
        return deployment.Url ?? throw new EnvironmentUnavailableException($"basilica deployment {deployment.InstanceName} has no URL yet (state {deployment.State}, phase {deployment.Phase})");
    }

    /// <summary>The deployment's name, from a replica of an environment in basilica mode.</summary>
    public static string InstanceName(ReplicaEndpoint replica) => replica.Id[..replica.Id.LastIndexOf('/')];
}
