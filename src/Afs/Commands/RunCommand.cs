using System.CommandLine;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Evaluation;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Jobs;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs run IMAGE</c>: starts the environment through the ValidatorClient with cleanup off, so its containers keep
/// running after afs exits; prints its methods and each replica's address. With <c>--rm</c> afs stays in the
/// foreground instead and the containers go when it ends: on Ctrl+C or SIGTERM at once, and within their lease when
/// afs is killed outright.
/// </summary>
internal sealed class RunCommand : AfsCommand
{
    private readonly Argument<string> _image = new("image") { Description = "environment image, e.g. my-env:dev (afs build makes one), or an environment directory (built first)" };
    private readonly Option<string?> _name = new("--name") { Description = "environment and container name (replica i > 0 gets -i); default: the image (containers afs-IMAGE-SESSION-i)" };
    private readonly Option<string[]> _env = new("--env", "-e") { Description = "environment variable K=V for the actor (repeatable; values are never printed)", AllowMultipleArgumentsPerToken = false };
    private readonly Option<string?> _envFile = new("--env-file") { Description = "file of KEY=VALUE lines (# comments, optional quotes); --env wins over it" };
    private readonly Option<int> _replicas = new("--replicas") { Description = "number of containers", DefaultValueFactory = _ => 1 };
    private readonly ContainerProfileOptions _profile = new();
    private readonly Option<string?> _authToken = new("--auth-token") { Description = "bearer token the environment will require on calls (default: $AFFINETES_AUTH_TOKEN)" };
    private readonly Option<bool> _hostNetwork = new("--host-network") { Description = "run in the engine host's network (the actor reaches servers on its 127.0.0.1)" };
    private readonly Option<bool> _forceRecreate = new("--force-recreate") { Description = "replace containers of the same name even when their settings match" };
    private readonly Option<string> _pull = new("--pull") { Description = "pull the image: missing, always or never", DefaultValueFactory = _ => "missing" };
    private readonly Option<double?> _readyTimeout = Seconds.Option("--ready-timeout", "seconds the replicas may take to become ready", 180);
    private readonly Option<bool> _remove = new("--rm") { Description = "stay in the foreground; the containers are removed when afs ends (Ctrl+C), and stop by themselves within --lease if afs is killed" };
    private readonly Option<double?> _lease = Seconds.Option("--lease", "with --rm: seconds the containers keep running without hearing from afs (default 60)");
    private readonly NetworkSide _networkSide = new("open", "a miner's own runs; afs eval and afs score isolate by default");
    private readonly Option<string> _mode = BasilicaAccess.ModeOption();
    private readonly Option<string?> _apiUrl = BasilicaAccess.ApiUrlOption();
    private readonly Option<double?> _ttl = Seconds.Option("--ttl", "basilica: seconds the deployment may live at most, even if nobody deletes it (default: --ready-timeout + 360 + 600)");

    private string? _loaded;
    private string _where = "";

    public RunCommand()
        : base("run", "Start an environment; its containers keep running after afs exits (afs stop NAME removes them).")
    {
        _pull.AcceptOnlyFromAmong("missing", "always", "never");
        Arguments.Add(_image);
        Options.Add(_name);
        Options.Add(_env);
        Options.Add(_envFile);
        Options.Add(_replicas);
        _profile.AddTo(this);
        Options.Add(_authToken);
        Options.Add(_hostNetwork);
        Options.Add(_forceRecreate);
        Options.Add(_pull);
        Options.Add(_readyTimeout);
        Options.Add(_remove);
        Options.Add(_lease);
        _networkSide.AddTo(this);
        Options.Add(_mode);
        Options.Add(_apiUrl);
        Options.Add(_ttl);
        AddHostOption("repeatable: replicas are spread over them");
    }

    protected override string CancelledMessage(CommandContext context) => _loaded is null
        ? "cancelled; the containers it had started are removed"
        : context.Get(_remove)
            ? $"stopped; the containers of {context.Get(_name) ?? _loaded} are removed"
            : $"cancelled; the environment is running (afs stop {Quote(context.Get(_name) ?? _loaded)}{_where} removes it)";

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var console = context.Console;
        // A directory is built first, as the original's run --dir does; a URL is refused with the commands that take one.
        var target = Target.Parse(context.Get(_image)!);
        if (target.Kind == TargetKind.Url)
        {
            Target.Image(target.Value, "run");
        }
        var engines = context.Engines;
        // The other commands look at the default engine unless told: repeat the engines when they are others.
        _where = engines.SequenceEqual([Engines.DefaultSpec]) ? "" : string.Concat(engines.Select(e => $" --host {Quote(e)}"));
        var remove = context.Get(_remove);
        var basilica = BasilicaAccess.IsBasilica(context, _mode);
        if (context.Get(_lease) is not null && (!remove || basilica))
        {
            throw new UsageException(basilica
                ? "--lease is for Docker containers; on basilica --ttl bounds how long the deployment lives"
                : "--lease applies to --rm only (without --rm the containers keep running until afs stop)");
        }
        if (basilica && _profile.DockerOnlyFlag(context) is { } dockerOnly)
        {
            throw new UsageException($"{dockerOnly} confines Docker containers; a basilica deployment is isolated by Basilica (--mem-limit and --cpu-limit apply to both)");
        }
        if (context.Get(_ttl) is not null && !basilica)
        {
            throw new UsageException("--ttl applies to --mode basilica (Docker containers of --rm stop within --lease instead)");
        }
        var envVars = context.Get(_envFile) is { } file ? EnvFile.Read(file) : [];
        foreach (var (key, value) in KeyValues.Parse(context.Get(_env), "--env", secret: true))
        {
            envVars[key] = value;
        }
        var network = basilica ? _networkSide.Parse(context) : _networkSide.Check(context, engines);
        var llm = _networkSide.Llm(context, network, fallback: null, fallbackKeyVariable: NetworkSide.DefaultKeyVariable);
        if (basilica && (network.Mode != NetworkMode.Open || llm is not null))
        {
            throw new UsageException("--network and --llm-upstream are for Docker containers; a Basilica deployment's network is Basilica's (drop them, or use --mode docker)");
        }
        if (llm is not null && !remove)
        {
            throw new UsageException("the LLM gateway runs as long as afs does, so --llm-upstream needs --rm (afs then stays in the foreground and the containers go with it)");
        }
        if (basilica && target.Kind == TargetKind.Directory)
        {
            throw new UsageException($"a Basilica deployment pulls its image from a registry: build and push it first (afs build {target.Value} --tag REGISTRY/NAME:TAG --push), then afs run REGISTRY/NAME:TAG --mode basilica");
        }
        var options = new EnvironmentOptions
        {
            Image = target.Kind == TargetKind.Directory ? "directory:latest" : target.Value,
            Llm = llm,
            ContainerName = context.Get(_name),
            EnvVars = envVars,
            Replicas = context.Get(_replicas),
            MemLimit = context.Get(_profile.MemLimit),
            CpuLimit = context.Get(_profile.CpuLimit),
            AuthToken = context.Get(_authToken) ?? NonEmpty(Environment.GetEnvironmentVariable("AFFINETES_AUTH_TOKEN")),
            ReadyTimeout = Seconds.Value(context, _readyTimeout)!.Value,
            Cleanup = remove,
            Lease = Seconds.Value(context, _lease) ?? new EnvironmentOptions().Lease,
            Mode = basilica ? EnvironmentMode.Basilica : EnvironmentMode.Docker,
            Basilica = basilica ? BasilicaAccess.Options(context, _apiUrl, Seconds.Value(context, _ttl)) : new BasilicaOptions(),
            Docker = new DockerOptions
            {
                Hosts = engines,
                SshConfigFile = Engines.SshConfigFile,
                Network = network,
                Hardening = _profile.Hardening(context),
                HostNetwork = context.Get(_hostNetwork),
                ForceRecreate = context.Get(_forceRecreate),
                Pull = Enum.Parse<PullPolicy>(context.Get(_pull)!, ignoreCase: true),
            },
        };
        options.Validate(); // bad quantities and counts fail here, before anything is asked of an engine (or built)
        if (target.Kind == TargetKind.Directory)
        {
            options = options with { Image = await Targets.BuildAsync(target.Value, context, cancellationToken) };
        }
        // Its own client (the caps the flags ask for); disposing it leaves environments running but stops an LLM gateway (hence --rm with --llm-upstream).
        await using var client = _profile.Client(context);
        var environmentName = options.ContainerName ?? options.Image!;

        // Containers of this name already running are reused when their settings match.
        var runningBefore = new HashSet<string>(StringComparer.Ordinal);
        if (!basilica)
        {
            await using var connected = await Engines.ConnectAsync(engines, cancellationToken);
            runningBefore.UnionWith((await connected.ListAsync(environmentName, includeStopped: false, cancellationToken)).Select(c => c.Id));
        }

        await using var environment = await client.LoadEnvAsync(options, cancellationToken);
        _loaded = environment.Name;
        if (basilica)
        {
            // A deployment is called and deleted by the name Basilica gave it.
            environmentName = BasilicaAccess.InstanceName(environment.Replicas[0]);
            _where = $" --mode basilica{(context.Get(_apiUrl) is { } api ? $" --api-url {Quote(api)}" : "")}";
        }
        var methods = await environment.ListMethodsAsync(cancellationToken);
        var replicaRows = environment.Replicas.Select((r, i) => new
        {
            replica = i,
            container = r.Description,
            id = r.Id,
            // An isolated replica is reached through its unix socket (curl --unix-socket PATH http://x/health).
            address = r.UnixSocket is { } socket ? "unix:" + socket : r.BaseUrl.Authority,
            url = r.UnixSocket is null ? r.BaseUrl.ToString() : null,
            reused = runningBefore.Contains(r.Id),
        }).ToList();

        if (context.Json)
        {
            console.WriteJson(new
            {
                name = environmentName,
                image = options.Image,
                replicas = replicaRows,
                methods = methods.Select(m => new { name = m.Name, signature = m.Signature, is_async = m.IsAsync }),
                removed_on_exit = remove,
            });
            if (remove)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            return ExitCodes.Ok;
        }
        var reusedCount = replicaRows.Count(r => r.reused);
        console.Line($"environment {environmentName} is ready: {options.Image}, {AfsConsole.Plural(replicaRows.Count, "replica")}, {EvaluationService.Describe(options)}" +
            (reusedCount == 0 ? "" : $" ({reusedCount} already running with the same settings, reused)"));
        var replicaTable = console.Table("REPLICA", "CONTAINER", "ADDRESS", "STATE");
        foreach (var row in replicaRows)
        {
            replicaTable.AddTextRow(row.replica.ToString(System.Globalization.CultureInfo.InvariantCulture), row.container, row.address, row.reused ? "reused" : "started");
        }
        console.Write(replicaTable);
        console.Line();
        var methodTable = console.Table("METHOD", "SIGNATURE");
        foreach (var method in methods)
        {
            methodTable.AddTextRow(method.Name, (method.IsAsync ? "async " : "") + method.Signature);
        }
        console.Write(methodTable);
        console.Line();
        var example = methods.FirstOrDefault(m => !m.IsAsync) ?? methods.FirstOrDefault();
        var exampleArgs = string.Concat(example?.Parameters.Where(p => p.Required).Select(p => $" --arg {p.Name}=...") ?? []);
        var next = $"afs call {Quote(environmentName)} {example?.Name ?? "METHOD"}{exampleArgs}{_where}" + (basilica ? "" : $", afs logs {Quote(environmentName)}{_where}");
        if (!remove)
        {
            console.Line(basilica
                ? $"the deployment keeps running after afs exits, at most its TTL ({context.Get(_ttl)?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"} s); next: {next}, afs basilica rm {Quote(environmentName)}"
                : $"the containers keep running after afs exits; next: {next}, afs stop {Quote(environmentName)}{_where}");
            return ExitCodes.Ok;
        }
        console.Line($"running until Ctrl+C, which removes the {(basilica ? "deployment" : "containers")}; meanwhile, in another terminal: {next}");
        await Task.Delay(Timeout.Infinite, cancellationToken);
        return ExitCodes.Ok;
    }

    private static string Quote(string word) => word.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or ':') ? word : $"'{word}'";

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
