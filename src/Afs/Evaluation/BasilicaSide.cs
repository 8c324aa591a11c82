using System.CommandLine;
using System.Globalization;
using Affinetes.Afs.Cli;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Afs.Evaluation;

/// <summary>
/// The options of <c>afs eval</c> and <c>afs score</c> for <c>--mode basilica</c>: the API (<c>--api-url</c>, the key
/// from <c>$BASILICA_API_TOKEN</c> only), its request rate (<c>--api-rate</c>), and how a deployment far from this
/// machine reaches the model: the LLM gateway at <c>--llm-public-url</c> (listening on <c>--llm-listen</c>, where the
/// validator's own proxy forwards to), or the key itself with <c>--pass-llm-key</c>, or not at all. Checked before
/// anything is built or created, each problem in afs's own words.
/// </summary>
internal sealed class BasilicaSide
{
    public Option<string?> ApiUrl { get; } = BasilicaAccess.ApiUrlOption();

    public Option<double?> ApiRate { get; } = new("--api-rate")
    {
        Description = "basilica: API requests per second this afs sends at most, after bursts of 15 (default 0.75: never more than 60 in a minute, Basilica's limit per key); status polls back off besides",
    };

    public Option<string?> LlmPublicUrl { get; } = new("--llm-public-url")
    {
        Description = "basilica: the address at which Basilica reaches this machine's LLM gateway (e.g. https://llm-gw.example.org/v1 behind your TLS proxy); " +
            "deployments get it and a token of their own, never the key",
    };

    public Option<string?> LlmListen { get; } = new("--llm-listen")
    {
        Description = $"with --llm-public-url: ADDRESS:PORT the gateway listens on, where the public URL's proxy forwards to (default {LlmAccessOptions.DefaultListen})",
    };

    public Option<bool> PassLlmKey { get; } = new("--pass-llm-key")
    {
        Description = "basilica without --llm-public-url: put the model's real API key into the deployment, where the miner's code can read it (warned on every run)",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(ApiUrl);
        command.Options.Add(ApiRate);
        command.Options.Add(LlmPublicUrl);
        command.Options.Add(LlmListen);
        command.Options.Add(PassLlmKey);
    }

    /// <summary>
    /// Checks the Basilica options against the mode: each is refused without <c>--mode basilica</c>; with it, the key
    /// must be set, the public URL http(s), the listen address ADDRESS:PORT, the rate sensible, and a model at a URL
    /// reachable (the gateway, or the key on purpose). <paramref name="llmFlags"/> are the gateway options of the
    /// network side (<c>--llm-upstream</c>, <c>--llm-key-env</c>), which need the public URL on Basilica.
    /// </summary>
    public void Check(CommandContext context, bool basilica, string? modelBaseUrl, IEnumerable<Option> llmFlags)
    {
        var given = new Option[] { ApiUrl, ApiRate, LlmPublicUrl, LlmListen, PassLlmKey }.Where(context.Given).Select(o => o.Name).ToList();
        if (!basilica)
        {
            if (given.Count > 0)
            {
                throw new UsageException($"{string.Join(", ", given)} {(given.Count == 1 ? "applies" : "apply")} to --mode basilica");
            }
            return;
        }
        if (context.Get(ApiUrl) is { } api && (!Uri.TryCreate(api, UriKind.Absolute, out var apiUri) || apiUri.Scheme is not ("http" or "https")))
        {
            throw new UsageException($"--api-url '{api}' is not an http(s) URL; give e.g. {BasilicaOptions.DefaultApiUrl}");
        }
        if (context.Get(ApiRate) is { } rate && !(rate is >= 0.01 and <= 1000))
        {
            throw new UsageException($"--api-rate {rate.ToString(CultureInfo.InvariantCulture)}: give requests per second from 0.01 to 1000 (Basilica allows about 1 a second per key)");
        }
        var publicUrl = context.Get(LlmPublicUrl);
        if (publicUrl is not null && (!Uri.TryCreate(publicUrl, UriKind.Absolute, out var reachable) || reachable.Scheme is not ("http" or "https") || reachable.Query.Length > 0))
        {
            throw new UsageException($"--llm-public-url '{publicUrl}' is not an http(s) URL; give the address at which Basilica reaches this machine's LLM gateway, e.g. https://llm-gw.example.org/v1 (behind your own TLS proxy)");
        }
        if (context.Get(LlmListen) is { } listen)
        {
            if (publicUrl is null)
            {
                throw new UsageException("--llm-listen is where the gateway behind --llm-public-url listens; give --llm-public-url too");
            }
            var colon = listen.LastIndexOf(':');
            if (colon <= 0 || !System.Net.IPAddress.TryParse(listen[..colon].Trim('[', ']'), out _)
                || !int.TryParse(listen[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                throw new UsageException($"--llm-listen '{listen}' is not ADDRESS:PORT; give e.g. 127.0.0.1:8791 (where your proxy forwards the public URL to)");
            }
        }
        if (publicUrl is not null && context.Get(PassLlmKey))
        {
            throw new UsageException("--pass-llm-key hands the deployment the key that --llm-public-url keeps on this machine; give one of them");
        }
        if (publicUrl is null && llmFlags.Where(context.Given).Select(o => o.Name).FirstOrDefault() is { } gatewayFlag)
        {
            throw new UsageException($"{gatewayFlag} sets up the LLM gateway, which a Basilica deployment reaches only at its public URL: give --llm-public-url URL too");
        }
        if (publicUrl is null && !context.Get(PassLlmKey) && modelBaseUrl is not null)
        {
            throw new UsageException($"a Basilica deployment runs the miner's code far from this machine; to reach the model at {modelBaseUrl} give --llm-public-url URL " +
                "(the LLM gateway at an address Basilica reaches; the key stays here), or --pass-llm-key to hand it the key itself (its code can then read it)");
        }
        BasilicaAccess.Options(context, ApiUrl); // the key last: what was typed wrong is said first
    }

    /// <summary>What Basilica cannot start, refused before anything is created: a directory (it pulls from a registry), a URL, more pods than a deployment has.</summary>
    public static void CheckTarget(CommandContext context, Target target, int replicas)
    {
        switch (target.Kind)
        {
            case TargetKind.Directory:
                throw new UsageException($"a Basilica deployment pulls its image from a registry: build and push it first (afs build {target.Value} --tag REGISTRY/NAME:TAG --push), " +
                    $"then afs {context.Command} REGISTRY/NAME@sha256:... --mode basilica (a reference pinned by digest is cached)");
            case TargetKind.Url:
                throw new UsageException($"--mode basilica starts an image on Basilica; '{target.Value}' is a URL (use --mode url)");
        }
        if (replicas is < 1 or > 10)
        {
            throw new UsageException($"--replicas {replicas}: a Basilica deployment has 1 to 10 pods");
        }
    }

    /// <summary>Refuses the flags that confine Docker containers (the profile's, and <paramref name="dockerOnly"/> when given): Basilica isolates its deployments itself.</summary>
    public static void RefuseDockerFlags(CommandContext context, ContainerProfileOptions profile, params Option[] dockerOnly)
    {
        if (profile.DockerOnlyFlag(context) is { } flag)
        {
            throw new UsageException($"{flag} confines Docker containers; a Basilica deployment is isolated by Basilica (--mem-limit and --cpu-limit apply to both)");
        }
        if (dockerOnly.FirstOrDefault(context.Given) is { } network)
        {
            throw new UsageException($"{network.Name} is for Docker containers; a Basilica deployment's network is Basilica's (its model calls go through --llm-public-url)");
        }
    }

    /// <summary>A deployment as the flags give it, checked by the library (a bad quantity is a usage error); the job services add the model side.</summary>
    public EnvironmentOptions Environment(CommandContext context, ContainerProfileOptions profile, string? image, int replicas, IReadOnlyDictionary<string, string> envVars,
        TimeSpan readyTimeout, long? maxResultBytes)
    {
        var options = new EnvironmentOptions
        {
            Mode = EnvironmentMode.Basilica,
            Image = image ?? "check",
            Replicas = replicas,
            EnvVars = envVars,
            MemLimit = context.Get(profile.MemLimit),
            CpuLimit = context.Get(profile.CpuLimit),
            ReadyTimeout = readyTimeout,
            MaxResultBytes = maxResultBytes ?? new EnvironmentOptions().MaxResultBytes,
            Cleanup = true,
            Basilica = Options(context),
        };
        try
        {
            options.Validate();
        }
        catch (EnvironmentOptionsException e)
        {
            throw new UsageException(e.Message);
        }
        return options with { Image = image };
    }

    /// <summary>The library's Basilica options for this command.</summary>
    public BasilicaOptions Options(CommandContext context) => BasilicaAccess.Options(context, ApiUrl) with
    {
        ApiRequestsPerSecond = context.Get(ApiRate) ?? new BasilicaOptions().ApiRequestsPerSecond,
        PassLlmKey = context.Get(PassLlmKey),
        // A deployment may spend minutes pulling: each phase is said as Basilica reports it.
        Progress = new Reporter<BasilicaStatus>(s => context.Console.Note(
            $"basilica {s.InstanceName}: {s.Phase ?? s.State}{(string.IsNullOrEmpty(s.Message) ? "" : $" ({s.Message})")}, {s.ReadyReplicas}/{s.DesiredReplicas} ready")),
    };
}
