using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Affinetes.Afs.Cli;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Episodes;
using Affinetes.ValidatorClient.Evaluation;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs play NAME [--task-id N] [--seed S]</c> (or <c>--url URL</c>): one episode of an interactive (OpenEnv)
/// environment, played in the terminal or through a pipe. Each observation is printed; each line read from stdin is an
/// action (<c>step</c>), after which the reward and whether the episode is done are printed. The episode is stopped at
/// its end, at the end of input, and on Ctrl+C (exit 130). <c>--json</c> prints one JSON line per event.
/// </summary>
internal sealed class PlayCommand : AfsCommand
{
    /// <summary>How long afs waits for a replica of a running environment to be ready.</summary>
    private static readonly TimeSpan ReadyWait = TimeSpan.FromSeconds(60);

    private readonly Argument<string?> _target = new("name") { Description = "the environment's name (afs ps lists them); not with --url", Arity = ArgumentArity.ZeroOrOne };
    private readonly Option<string?> _url = new("--url") { Description = "play on a host at this URL instead of a container, e.g. http://127.0.0.1:8000" };
    private readonly Option<long?> _taskId = new("--task-id") { Description = "the task to play (reset's task_id); default: the environment's choice" };
    private readonly Option<long?> _seed = new("--seed") { Description = "reset's seed; default: the environment's choice" };
    private readonly Option<string[]> _args = new("--arg", "-a") { Description = "another keyword argument of reset, k=v (repeatable)", AllowMultipleArgumentsPerToken = false };
    private readonly Option<TimeSpan?> _timeout = Seconds.Deadline("--timeout",
        $"seconds each call (reset, step, stop) may take; default {CallDeadlines.CallDefault.TotalSeconds:0}; none: no deadline");
    private readonly Option<string?> _authToken = new("--auth-token") { Description = "bearer token the environment requires (default: $AFFINETES_AUTH_TOKEN)" };
    private readonly Option<string> _mode = BasilicaAccess.ModeOption();
    private readonly Option<string?> _apiUrl = BasilicaAccess.ApiUrlOption();

    public PlayCommand()
        : base("play", "Play one episode of an interactive (OpenEnv) environment: observations on stdout, one action per line on stdin; the episode is stopped at its end, at the end of input or on Ctrl+C.")
    {
        Arguments.Add(_target);
        Options.Add(_url);
        Options.Add(_taskId);
        Options.Add(_seed);
        Options.Add(_args);
        Options.Add(_timeout);
        Options.Add(_authToken);
        Options.Add(_mode);
        Options.Add(_apiUrl);
        AddHostOption("repeatable: the first ready replica on them serves the episode");
    }

    protected override string CancelledMessage(CommandContext context) => "cancelled; the episode was stopped";

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var (name, baseUrl) = (context.Get(_target), context.Get(_url));
        if ((name is null) == (baseUrl is null))
        {
            throw new UsageException("name the environment (afs play NAME; afs ps lists them) or give --url URL, not both");
        }
        var token = context.Get(_authToken) ?? (Environment.GetEnvironmentVariable("AFFINETES_AUTH_TOKEN") is { Length: > 0 } t ? t : null);
        var timeout = context.Get(_timeout) ?? CallDeadlines.CallDefault;
        if (name is not null && BasilicaAccess.IsBasilica(context, _mode))
        {
            baseUrl = await BasilicaAccess.UrlOfAsync(context, _apiUrl, name, cancellationToken);
        }
        await using var environment = baseUrl is not null
            ? await AffinetesClient.LoadEnvAsync(new EnvironmentOptions
            {
                Mode = EnvironmentMode.Url,
                BaseUrls = [baseUrl],
                AuthToken = token,
                ReadyTimeout = ReadyWait,
            }, context.LoggerFactory, cancellationToken)
            : await RunningReplicas.ConnectToFirstReadyAsync(name!, context, token, ReadyWait, cancellationToken);
        var kwargs = await ResetArgumentsAsync(environment, name ?? baseUrl!, context.Get(_args), cancellationToken);

        await using var episode = await environment.OpenEnv().ResetAsync(context.Get(_taskId), context.Get(_seed), kwargs, timeout, cancellationToken);
        var view = new PlayView(context, episode);
        view.Opened();
        var input = new StreamReader(Console.OpenStandardInput(), Encoding.UTF8);
        var (steps, reward, last) = (0, 0.0, episode.Reset);
        try
        {
            while (!last.Done && !last.Truncated)
            {
                view.Prompt();
                var line = await input.ReadLineAsync(cancellationToken).AsTask().WaitAsync(cancellationToken);
                if (line is null)
                {
                    await episode.StopAsync(timeout, CancellationToken.None);
                    view.Ended("end_of_input", steps, reward);
                    return ExitCodes.Ok;
                }
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }
                last = await episode.StepAsync(line, null, timeout, cancellationToken);
                steps++;
                reward += last.Reward;
                view.Stepped(steps, line, last);
            }
            await episode.StopAsync(timeout, CancellationToken.None);
            view.Ended(last.Done ? "done" : "truncated", steps, reward);
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await episode.DisposeAsync();
            view.Ended("cancelled", steps, reward);
            throw;
        }
    }

    /// <summary>
    /// The extra kwargs of reset, typed by its parameters; and a one-line refusal, before any episode is opened, of an
    /// environment without <c>reset</c> and <c>step</c>.
    /// </summary>
    private static async Task<Dictionary<string, object?>> ResetArgumentsAsync(IEnvironment environment, string name, string[]? args, CancellationToken cancellationToken)
    {
        var given = CallArguments.Parse(args, null);
        IReadOnlyList<Protocol.MethodDescriptor> methods;
        try
        {
            methods = await environment.ListMethodsAsync(cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException)
        {
            return CallArguments.Typed(given, null); // no usable /methods: reset itself will say
        }
        var missing = new[] { "reset", "step" }.Where(m => methods.All(d => d.Name != m)).ToList();
        if (missing.Count > 0)
        {
            throw new MethodNotFoundException(missing[0], $"Method not found: {missing[0]}; {name} is not interactive (it has {string.Join(", ", methods.Select(m => m.Name))}): " +
                "afs play needs an OpenEnv environment, with reset and step");
        }
        if (given.Keys.FirstOrDefault(k => k is "task_id" or "seed") is { } reserved)
        {
            throw new UsageException($"give {reserved} as --{reserved.Replace('_', '-')}, not --arg");
        }
        return CallArguments.Typed(given, methods.First(m => m.Name == "reset"));
    }

    /// <summary>What the player sees: text for people (observations as they are), or one JSON line per event.</summary>
    private sealed class PlayView(CommandContext context, IEpisode episode)
    {
        private readonly bool _prompt = !context.Json && !Console.IsInputRedirected && context.Console.IsInteractive;

        public void Opened()
        {
            var reset = episode.Reset;
            if (context.Json)
            {
                context.Console.WriteJson(new { @event = "reset", episode_id = episode.EpisodeId, replica = episode.Replica.Description, observation = reset.Observation, info = reset.Info });
                return;
            }
            context.Console.Note($"episode {episode.EpisodeId} on {episode.Replica.Description}{Described(reset.Info)}; one action per line, end of input (Ctrl+D) stops it");
            context.Console.Line(reset.ObservationText);
        }

        public void Prompt()
        {
            if (_prompt)
            {
                context.ParseResult.InvocationConfiguration.Error.Write("> ");
            }
        }

        public void Stepped(int step, string action, StepResult result)
        {
            if (context.Json)
            {
                context.Console.WriteJson(new { @event = "step", step, action, observation = result.Observation, reward = result.Reward, done = result.Done, truncated = result.Truncated, info = result.Info });
                return;
            }
            context.Console.Line($"reward {Number(result.Reward)}, done {(result.Done ? "true" : "false")}{(result.Truncated ? ", truncated" : "")}{(result.ErrorType is { } error ? $" ({error})" : "")}");
            context.Console.Line(result.ObservationText);
        }

        public void Ended(string reason, int steps, double reward)
        {
            if (context.Json)
            {
                context.Console.WriteJson(new { @event = "end", episode_id = episode.EpisodeId, stop_reason = reason, steps, reward, stopped = true });
                return;
            }
            var how = reason switch
            {
                "done" => "done",
                "truncated" => "cut short by the environment",
                "end_of_input" => "stopped at the end of input",
                _ => "stopped",
            };
            context.Console.Note($"episode {episode.EpisodeId} {how}: reward {Number(reward)} in {AfsConsole.Plural(steps, "step")}; stopped");
        }

        private static string Described(JsonElement info)
        {
            if (info.ValueKind != JsonValueKind.Object)
            {
                return "";
            }
            var parts = new[] { "task_id", "seed" }.Where(k => info.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.Number)
                .Select(k => $"{k.Replace("_id", "", StringComparison.Ordinal)} {info.GetProperty(k).GetRawText()}").ToList();
            return parts.Count == 0 ? "" : $" ({string.Join(", ", parts)})";
        }

        private static string Number(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
    }
}
