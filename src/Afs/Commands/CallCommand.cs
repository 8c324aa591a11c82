using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Affinetes.Afs.Cli;
using Affinetes.Protocol;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs call NAME METHOD --arg k=v</c> (or <c>afs call --url URL METHOD</c>): one call through the ValidatorClient's
/// call path, the result as JSON on stdout, and an exit code per kind of failure. <c>--timeout</c> bounds the whole
/// command: finding a ready replica and the call.
/// </summary>
internal sealed class CallCommand : AfsCommand
{
    /// <summary>How long a call without <c>--timeout</c> may wait for a replica to be ready.</summary>
    private static readonly TimeSpan DefaultReadyWait = TimeSpan.FromSeconds(60);

    private readonly Argument<string> _target = new("name") { Description = "the environment's name (afs ps lists them); with --url, the method" };
    private readonly Argument<string?> _method = new("method") { Description = "the method to call (afs methods NAME lists them)", Arity = ArgumentArity.ZeroOrOne };
    private readonly Option<string?> _url = new("--url") { Description = "call a host at this URL instead of a container, e.g. http://127.0.0.1:8000" };
    private readonly Option<string[]> _args = new("--arg", "-a") { Description = "keyword argument k=v (repeatable); v is converted to the parameter's type from /methods (a string parameter gets the text as is), else read as JSON when it is JSON", AllowMultipleArgumentsPerToken = false };
    private readonly Option<string?> _jsonArgs = new("--json-args") { Description = "keyword arguments as one JSON object; --arg wins over it" };
    private readonly Option<TimeSpan?> _timeout = Seconds.Deadline("--timeout",
        "seconds the whole call may take (finding a ready replica included); past it the environment cancels the work (exit code 4). " +
        $"Default: the method's timeout argument + {TimeoutKwarg.GraceSeconds:0} s when it has one, else {CallDeadlines.CallDefault.TotalSeconds:0} s, for the call itself; none: no deadline");
    private readonly Option<string?> _authToken = new("--auth-token") { Description = "bearer token the environment requires (default: $AFFINETES_AUTH_TOKEN)" };
    private readonly Option<bool> _compact = new("--compact") { Description = "print the result on one line" };
    private readonly Option<string> _mode = BasilicaAccess.ModeOption();
    private readonly Option<string?> _apiUrl = BasilicaAccess.ApiUrlOption();

    public CallCommand()
        : base("call", "Call one method of a running environment; prints the result as JSON (exit codes: 2 the actor raised, 3 bad call, 4 deadline, 5 unavailable).")
    {
        Arguments.Add(_target);
        Arguments.Add(_method);
        Options.Add(_url);
        Options.Add(_args);
        Options.Add(_jsonArgs);
        Options.Add(_timeout);
        Options.Add(_authToken);
        Options.Add(_compact);
        Options.Add(_mode);
        Options.Add(_apiUrl);
        AddHostOption("repeatable: any running replica on them answers");
    }

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var baseUrl = context.Get(_url);
        var first = context.Get(_target)!;
        var second = context.Get(_method);
        if (baseUrl is not null && second is not null)
        {
            throw new UsageException($"with --url give only the method: afs call --url {baseUrl} METHOD (got '{first}' and '{second}')");
        }
        if (baseUrl is null && second is null)
        {
            throw new UsageException($"name the method: afs call {first} METHOD (afs methods {first} lists them), or afs call --url URL METHOD");
        }
        var methodName = baseUrl is null ? second! : first;
        if (string.IsNullOrWhiteSpace(methodName))
        {
            throw new UsageException($"the method name is empty; name the method to call (afs methods {(baseUrl is null ? first : "--url " + baseUrl)} lists them)");
        }
        var given = CallArguments.Parse(context.Get(_args), context.Get(_jsonArgs));
        var token = context.Get(_authToken) ?? (Environment.GetEnvironmentVariable("AFFINETES_AUTH_TOKEN") is { Length: > 0 } t ? t : null);
        // A --timeout of seconds bounds the whole command; none, or no --timeout, leaves the ready wait its own bound.
        var deadline = context.Get(_timeout) is { } asked && asked != Timeout.InfiniteTimeSpan ? asked : (TimeSpan?)null;
        var noDeadline = context.Get(_timeout) == Timeout.InfiniteTimeSpan;
        TimeSpan? defaultDeadline = null;

        // --timeout bounds everything from here on: finding a ready replica, reading the method table, the call.
        using var overall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (deadline is { } limit)
        {
            overall.CancelAfter(limit);
        }
        var clock = Stopwatch.StartNew();
        try
        {
            // A deployment afs run --mode basilica left running, found by the name it was given (whatever Basilica named it).
            await using var environment = baseUrl is null && BasilicaAccess.IsBasilica(context, _mode)
                ? await BasilicaAccess.ConnectAsync(context, _apiUrl, first, token, deadline ?? DefaultReadyWait, overall.Token)
                : baseUrl is not null
                ? await AffinetesClient.LoadEnvAsync(new EnvironmentOptions
                {
                    Mode = EnvironmentMode.Url,
                    BaseUrls = [baseUrl],
                    AuthToken = token,
                    ReadyTimeout = deadline ?? DefaultReadyWait,
                }, context.LoggerFactory, overall.Token)
                : await RunningReplicas.ConnectToFirstReadyAsync(first, context, token, deadline ?? DefaultReadyWait, overall.Token);
            var (kwargs, descriptor) = given.Count == 0 && (deadline is not null || noDeadline)
                ? (given, null)
                : await TypedArgumentsAsync(environment, methodName, given, overall.Token);
            var remaining = deadline is { } d ? d - clock.Elapsed : (TimeSpan?)null;
            if (remaining <= TimeSpan.Zero)
            {
                throw new OperationCanceledException(overall.Token);
            }
            if (remaining is null)
            {
                defaultDeadline = noDeadline ? null : CallDeadlines.For(descriptor, kwargs, CallDeadlines.CallDefault);
                remaining = defaultDeadline ?? Timeout.InfiniteTimeSpan;
            }
            var started = Stopwatch.GetTimestamp();
            var value = await environment.CallAsync(methodName, null, kwargs, remaining, overall.Token);
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (context.Json)
            {
                context.Console.WriteJson(new
                {
                    method = methodName,
                    result = value.ValueKind == JsonValueKind.Undefined ? (JsonElement?)null : value,
                    replica = environment.Replicas[0].Description,
                    elapsed_ms = Math.Round(elapsed.TotalMilliseconds, 1),
                });
            }
            else
            {
                context.Console.Line(value.ValueKind == JsonValueKind.Undefined
                    ? "null"
                    : JsonSerializer.Serialize(value, context.Get(_compact) ? AfsConsole.JsonOptions : AfsConsole.PrettyJsonOptions));
            }
            return ExitCodes.Ok;
        }
        catch (DeadlineExceededException e) when (defaultDeadline is { } used && !cancellationToken.IsCancellationRequested)
        {
            throw new CommandDeadlineException($"{methodName} did not answer within {CallDeadlines.Describe(used)}, afs call's default deadline " +
                $"({(used == CallDeadlines.CallDefault ? "the method has no timeout argument" : "its timeout argument + " + TimeoutKwarg.GraceSeconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture) + " s")})" +
                (e.ServerSide ? "; the environment cancelled it" : "") + "; give --timeout S for another, or --timeout none");
        }
        catch (Exception e) when (deadline is not null && !cancellationToken.IsCancellationRequested
            && (e is DeadlineExceededException || ((overall.IsCancellationRequested || clock.Elapsed >= deadline) && e is not UsageException)))
        {
            // The clock as well as the token: with a tiny --timeout the ready wait (bounded by the same figure) can
            // give up before the token's timer has fired on a busy machine, and that is still the deadline passing.
            // Whatever the expired --timeout surfaced as, the user's figure is the one to name (the call itself only
            // got what was left of it after connecting).
            var typed = double.TryParse(Seconds.Typed(context, _timeout), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var typedSeconds) ? typedSeconds : deadline.Value.TotalSeconds;
            throw new CommandDeadlineException($"{methodName} did not answer within --timeout {Seconds.Format(typed)} s" + e switch
            {
                DeadlineExceededException { ServerSide: true } => " (the environment cancelled it)",
                EnvironmentUnavailableException => " (no replica became ready in time)",
                _ => "",
            });
        }
    }

    /// <summary>
    /// <c>--arg k=v</c> values converted by the method's parameter types from <c>/methods</c>: a string parameter gets
    /// the text as typed (<c>--arg action=500</c> sends "500"), other types the JSON value. Unknown methods and
    /// parameters are left for the environment to reject with its own message.
    /// </summary>
    /// <remarks>Also gives the method's descriptor (its declared <c>timeout</c> makes the default deadline); null when the host lists no such method.</remarks>
    private static async Task<(Dictionary<string, object?> Kwargs, MethodDescriptor? Descriptor)> TypedArgumentsAsync(IEnvironment environment, string method, Dictionary<string, object?> given, CancellationToken cancellationToken)
    {
        MethodDescriptor? descriptor = null;
        try
        {
            descriptor = (await environment.ListMethodsAsync(cancellationToken)).FirstOrDefault(m => m.Name == method);
        }
        catch (Exception e) when (e is AffinetesException or HttpRequestException or JsonException)
        {
            // A server without a usable /methods: the values go as JSON where they are JSON.
        }
        return (CallArguments.Typed(given, descriptor), descriptor);
    }
}

/// <summary>The keyword arguments of <c>afs call</c>: <c>--json-args</c> as the base, each <c>--arg k=v</c> over it.</summary>
internal static class CallArguments
{
    /// <summary>A value typed on the command line: its JSON reading, and the text as typed for string parameters.</summary>
    public sealed record TypedText(string Text, JsonElement? AsJson);

    public static Dictionary<string, object?> Parse(IEnumerable<string>? args, string? jsonArgs, string option = "--arg")
    {
        var kwargs = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (!string.IsNullOrWhiteSpace(jsonArgs))
        {
            JsonElement root;
            try
            {
                using var doc = JsonDocument.Parse(jsonArgs);
                root = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new UsageException($"--json-args is not valid JSON: {e.Message}");
            }
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new UsageException($"--json-args must be a JSON object of keyword arguments, e.g. '{{\"task_id\": 1}}'; it is a{(root.ValueKind == JsonValueKind.Array ? "n array" : " " + root.ValueKind.ToString().ToLowerInvariant())}");
            }
            foreach (var property in root.EnumerateObject())
            {
                kwargs[property.Name] = property.Value;
            }
        }
        foreach (var arg in args ?? [])
        {
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException($"{option} '{arg}' is not k=v");
            }
            var text = arg[(equals + 1)..];
            kwargs[arg[..equals]] = new TypedText(text, Json(text));
        }
        return kwargs;
    }

    /// <summary>
    /// Values typed on the command line converted by the method's parameter types: a string parameter gets the text
    /// as typed, other types (or no descriptor) the JSON value where the text is JSON.
    /// </summary>
    public static Dictionary<string, object?> Typed(Dictionary<string, object?> given, MethodDescriptor? descriptor)
    {
        var stringParameters = descriptor?.Parameters.Where(p => p.Type == "string").Select(p => p.Name).ToHashSet(StringComparer.Ordinal) ?? [];
        return given.ToDictionary(kv => kv.Key, kv => kv.Value is TypedText typed
            ? stringParameters.Contains(kv.Key) ? typed.Text : Value(typed)
            : kv.Value, StringComparer.Ordinal);
    }

    /// <summary>What a <see cref="TypedText"/> is sent as when the parameter's type is not a string: its JSON value, else the text.</summary>
    public static object Value(TypedText typed) => typed.AsJson is { } json ? json : typed.Text;

    private static JsonElement? Json(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
