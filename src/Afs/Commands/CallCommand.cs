using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs call NAME METHOD --arg k=v</c> (or <c>afs call --url URL METHOD</c>): one call through the ValidatorClient's
/// call path, the result as JSON on stdout, and an exit code per kind of failure.
/// </summary>
internal static class CallCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("name") { Description = "the environment's name (afs ps lists them); with --url, the method" };
        var method = new Argument<string?>("method") { Description = "the method to call (afs run lists them)", Arity = ArgumentArity.ZeroOrOne };
        var url = new Option<string?>("--url") { Description = "call a host at this URL instead of a container, e.g. http://127.0.0.1:8000" };
        var args = new Option<string[]>("--arg", "-a") { Description = "keyword argument k=v (repeatable); v is read as JSON when it is JSON (1, true, [1,2], \"1\"), else as a string", AllowMultipleArgumentsPerToken = false };
        var jsonArgs = new Option<string?>("--json-args") { Description = "keyword arguments as one JSON object; --arg wins over it" };
        var timeout = new Option<double?>("--timeout") { Description = "seconds to wait for the answer; past it the environment cancels the call (exit code 4)" };
        var authToken = new Option<string?>("--auth-token") { Description = "bearer token the environment requires (default: $AFFINETES_AUTH_TOKEN)" };
        var compact = new Option<bool>("--compact") { Description = "print the result on one line" };
        var json = new Option<bool>("--json") { Description = "print {method, result, replica, elapsed_ms} on one line" };
        var hosts = Engines.HostOption("repeatable: any running replica on them answers");
        var command = new Command("call", "Call one method of a running environment; prints the result as JSON (exit codes: 2 the actor raised, 3 bad call, 4 deadline, 5 unavailable).")
        {
            target, method, url, args, jsonArgs, timeout, authToken, compact, json, hosts,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            try
            {
                var baseUrl = result.GetValue(url);
                var first = result.GetValue(target)!;
                var second = result.GetValue(method);
                if (baseUrl is not null && second is not null)
                {
                    throw new ArgumentException($"with --url give only the method: afs call --url {baseUrl} METHOD (got '{first}' and '{second}')");
                }
                if (baseUrl is null && second is null)
                {
                    throw new ArgumentException($"name the method: afs call {first} METHOD (afs run prints the methods), or afs call --url URL METHOD");
                }
                var methodName = baseUrl is null ? second! : first;
                var kwargs = CallArguments.Parse(result.GetValue(args), result.GetValue(jsonArgs));
                var deadline = result.GetValue(timeout) is { } seconds
                    ? seconds > 0 ? TimeSpan.FromSeconds(seconds) : throw new ArgumentException($"--timeout {seconds} must be more than zero seconds")
                    : (TimeSpan?)null;
                var token = result.GetValue(authToken) ?? (Environment.GetEnvironmentVariable("AFFINETES_AUTH_TOKEN") is { Length: > 0 } t ? t : null);
                // Waiting for a replica that is still starting is fine; waiting longer than the caller's deadline is not.
                var readyTimeout = deadline is { } d && d < TimeSpan.FromSeconds(60) ? d : TimeSpan.FromSeconds(60);

                await using var environment = baseUrl is not null
                    ? await AffinetesClient.LoadEnvAsync(new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [baseUrl], AuthToken = token, ReadyTimeout = readyTimeout }, cancellationToken)
                    : await ConnectToAnyReplicaAsync(first, Engines.Resolve(result, hosts), token, readyTimeout, cancellationToken);
                if (result.GetValue(args) is { Length: > 0 } pairs)
                {
                    // --arg values are read by the method's parameter types: action=500 stays the string "500" for a str.
                    kwargs = CallArguments.Parse(pairs, result.GetValue(jsonArgs), await CallArguments.ParameterTypesAsync(environment, methodName, cancellationToken));
                }
                var started = Stopwatch.GetTimestamp();
                var value = await environment.CallAsync(methodName, null, kwargs, deadline, cancellationToken);
                var elapsed = Stopwatch.GetElapsedTime(started);
                if (result.GetValue(json))
                {
                    Terminal.WriteJson(output, new
                    {
                        method = methodName,
                        result = value.ValueKind == JsonValueKind.Undefined ? (JsonElement?)null : value,
                        replica = environment.Replicas[0].Description,
                        elapsed_ms = Math.Round(elapsed.TotalMilliseconds, 1),
                    });
                }
                else
                {
                    output.WriteLine(value.ValueKind == JsonValueKind.Undefined ? "null" : JsonSerializer.Serialize(value, result.GetValue(compact) ? Terminal.Json : Terminal.PrettyJson));
                }
                return ExitCodes.Ok;
            }
            catch (Exception e) when (Failures.IsExpected(e) || e is JsonException)
            {
                return Failures.Report(error, "call", e);
            }
        });
        return command;
    }

    /// <summary>
    /// One call needs one replica: the running replicas of <paramref name="name"/> on the engines, in replica order, are
    /// tried until one is ready (a replica that died or hangs does not fail the call while another one answers).
    /// </summary>
    private static async Task<IEnvironment> ConnectToAnyReplicaAsync(string name, IReadOnlyList<string> hosts, string? token, TimeSpan readyTimeout, CancellationToken cancellationToken)
    {
        IReadOnlyList<EngineContainer> running;
        await using (var engines = await Engines.ConnectAsync(hosts, cancellationToken))
        {
            running = [.. (await engines.ListAsync(name, includeStopped: false, cancellationToken))
                .OrderBy(c => c.Container.Replica).ThenByDescending(c => c.Container.Created)];
        }
        if (running.Count == 0)
        {
            throw new EnvironmentUnavailableException($"no running environment named '{name}' on {string.Join(", ", hosts.Select(Engines.Describe))} (afs ps lists them; afs run starts one)");
        }
        EnvironmentUnavailableException? last = null;
        foreach (var (engine, replica) in running)
        {
            try
            {
                return await AffinetesClient.LoadEnvAsync(new EnvironmentOptions
                {
                    ConnectOnly = true,
                    ContainerName = replica.ContainerName,
                    Image = replica.Image,
                    Hosts = [engine.Spec],
                    SshConfigFile = Engines.SshConfigFile,
                    AuthToken = token,
                    ReadyTimeout = readyTimeout,
                    Cleanup = false,
                }, cancellationToken);
            }
            catch (EnvironmentUnavailableException e)
            {
                last = e;
            }
        }
        throw last!;
    }
}

/// <summary>The keyword arguments of <c>afs call</c>: <c>--json-args</c> as the base, each <c>--arg k=v</c> over it.</summary>
internal static class CallArguments
{
    /// <summary>
    /// The JSON type of each parameter of <paramref name="method"/> (<c>string</c>, <c>integer</c> ...) from the
    /// environment's <c>/methods</c>; empty when it does not say (an unknown method, a server without types).
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, string>> ParameterTypesAsync(IEnvironment environment, string method, CancellationToken cancellationToken)
    {
        try
        {
            var methods = await environment.ListMethodsAsync(cancellationToken);
            return methods.FirstOrDefault(m => m.Name == method)?.Parameters
                .Where(p => p.Type is not null)
                .ToDictionary(p => p.Name, p => p.Type!, StringComparer.Ordinal) ?? [];
        }
        catch (Exception e) when (e is AffinetesException or HttpRequestException or JsonException)
        {
            return new Dictionary<string, string>();
        }
    }

    /// <param name="args">The <c>--arg k=v</c> pairs.</param>
    /// <param name="jsonArgs">The <c>--json-args</c> object.</param>
    /// <param name="parameterTypes">JSON types of the method's parameters: a <c>string</c> parameter takes v as text whatever it looks like.</param>
    public static Dictionary<string, object?> Parse(IEnumerable<string>? args, string? jsonArgs, IReadOnlyDictionary<string, string>? parameterTypes = null)
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
                throw new ArgumentException($"--json-args is not valid JSON: {e.Message}");
            }
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ArgumentException($"--json-args must be a JSON object of keyword arguments, e.g. '{{\"task_id\": 1}}'; it is a{(root.ValueKind == JsonValueKind.Array ? "n array" : " " + root.ValueKind.ToString().ToLowerInvariant())}");
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
                throw new ArgumentException($"--arg '{arg}' is not k=v");
            }
            var key = arg[..equals];
            kwargs[key] = parameterTypes?.GetValueOrDefault(key) == "string" ? arg[(equals + 1)..] : Value(arg[(equals + 1)..]);
        }
        return kwargs;
    }

    /// <summary><c>1</c> is 1, <c>true</c> is true, <c>[1,2]</c> a list, <c>"1"</c> the string 1; anything that is not JSON is a string.</summary>
    public static object Value(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return text;
        }
    }
}
