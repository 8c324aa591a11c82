using System.CommandLine;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs run IMAGE</c>: starts the environment through the ValidatorClient with cleanup off, so its containers keep
/// running after afs exits; prints its methods and each replica's address.
/// </summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var image = new Argument<string>("image") { Description = "environment image, e.g. my-env:dev (afs build makes one)" };
        var name = new Option<string?>("--name") { Description = "environment and container name (replica i > 0 gets -i); default: the image (containers afs-IMAGE-SESSION-i)" };
        var env = new Option<string[]>("--env", "-e") { Description = "environment variable K=V for the actor (repeatable; values are never printed)", AllowMultipleArgumentsPerToken = false };
        var envFile = new Option<string?>("--env-file") { Description = "file of KEY=VALUE lines (# comments, optional quotes); --env wins over it" };
        var replicas = new Option<int>("--replicas") { Description = "number of containers", DefaultValueFactory = _ => 1 };
        var memLimit = new Option<string?>("--mem-limit") { Description = "memory limit per replica: 512Mi, 8Gi, 1g" };
        var cpuLimit = new Option<string?>("--cpu-limit") { Description = "CPU limit per replica: 2, 0.5, 2000m" };
        var hosts = Engines.HostOption("repeatable: replicas are spread over them");
        var authToken = new Option<string?>("--auth-token") { Description = "bearer token the environment will require on calls (default: $AFFINETES_AUTH_TOKEN)" };
        var hostNetwork = new Option<bool>("--host-network") { Description = "run in the engine host's network (the actor reaches servers on its 127.0.0.1)" };
        var forceRecreate = new Option<bool>("--force-recreate") { Description = "replace containers of the same name even when their settings match" };
        var pull = new Option<string>("--pull") { Description = "pull the image: missing, always or never", DefaultValueFactory = _ => "missing" };
        pull.AcceptOnlyFromAmong("missing", "always", "never");
        var readyTimeout = new Option<double>("--ready-timeout") { Description = "seconds the replicas may take to become ready", DefaultValueFactory = _ => 180 };
        var json = new Option<bool>("--json") { Description = "print the environment as JSON" };
        var command = new Command("run", "Start an environment; its containers keep running after afs exits (afs stop NAME removes them).")
        {
            image, name, env, envFile, replicas, memLimit, cpuLimit, hosts, authToken, hostNetwork, forceRecreate, pull, readyTimeout, json,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            string? loaded = null;
            var engines = Engines.Resolve(result, hosts);
            // The other commands look at the default engine unless told: repeat the engines when they are others.
            var where = engines.SequenceEqual([Engines.DefaultSpec]) ? "" : string.Concat(engines.Select(e => $" --host {Quote(e)}"));
            try
            {
                var envVars = result.GetValue(envFile) is { } file ? EnvFile.Read(file) : [];
                foreach (var (key, value) in KeyValues.Parse(result.GetValue(env), "--env", secret: true))
                {
                    envVars[key] = value;
                }
                var options = new EnvironmentOptions
                {
                    Image = result.GetValue(image),
                    ContainerName = result.GetValue(name),
                    EnvVars = envVars,
                    Replicas = result.GetValue(replicas),
                    MemLimit = result.GetValue(memLimit),
                    CpuLimit = result.GetValue(cpuLimit),
                    Hosts = engines,
                    SshConfigFile = Engines.SshConfigFile,
                    AuthToken = result.GetValue(authToken) ?? NonEmpty(Environment.GetEnvironmentVariable("AFFINETES_AUTH_TOKEN")),
                    HostNetwork = result.GetValue(hostNetwork),
                    ForceRecreate = result.GetValue(forceRecreate),
                    Pull = Enum.Parse<PullPolicy>(result.GetValue(pull)!, ignoreCase: true),
                    ReadyTimeout = TimeSpan.FromSeconds(result.GetValue(readyTimeout)),
                    Cleanup = false,
                };
                options.Validate(); // bad quantities and counts fail here, before anything is asked of an engine
                var environmentName = options.ContainerName ?? options.Image!;

                // Containers of this name already running are reused when their settings match.
                var runningBefore = new HashSet<string>(StringComparer.Ordinal);
                await using (var connected = await Engines.ConnectAsync(engines, cancellationToken))
                {
                    runningBefore.UnionWith((await connected.ListAsync(environmentName, includeStopped: false, cancellationToken)).Select(c => c.Container.Id));
                }

                await using var environment = await AffinetesClient.LoadEnvAsync(options, cancellationToken);
                loaded = environment.Name;
                var methods = await environment.ListMethodsAsync(cancellationToken);
                var replicaRows = environment.Replicas.Select((r, i) => new
                {
                    replica = i,
                    container = r.Description,
                    id = r.Id,
                    address = r.BaseUrl.Authority,
                    url = r.BaseUrl.ToString(),
                    reused = runningBefore.Contains(r.Id),
                }).ToList();

                if (result.GetValue(json))
                {
                    Terminal.WriteJson(output, new
                    {
                        name = environmentName,
                        image = options.Image,
                        replicas = replicaRows,
                        methods = methods.Select(m => new { name = m.Name, signature = m.Signature, is_async = m.IsAsync }),
                    });
                    return ExitCodes.Ok;
                }
                var reusedCount = replicaRows.Count(r => r.reused);
                output.WriteLine($"environment {environmentName} is ready: {options.Image}, {Plural(replicaRows.Count, "replica")}" +
                    (reusedCount == 0 ? "" : $" ({reusedCount} already running with the same settings, reused)"));
                var replicaTable = Terminal.Table(output, "REPLICA", "CONTAINER", "ADDRESS", "STATE");
                foreach (var row in replicaRows)
                {
                    replicaTable.AddTextRow(row.replica.ToString(System.Globalization.CultureInfo.InvariantCulture), row.container, row.address, row.reused ? "reused" : "started");
                }
                Terminal.Write(output, replicaTable);
                output.WriteLine();
                var methodTable = Terminal.Table(output, "METHOD", "SIGNATURE");
                foreach (var method in methods)
                {
                    methodTable.AddTextRow(method.Name, (method.IsAsync ? "async " : "") + method.Signature);
                }
                Terminal.Write(output, methodTable);
                output.WriteLine();
                var example = methods.FirstOrDefault(m => !m.IsAsync) ?? methods.FirstOrDefault();
                var exampleArgs = string.Concat(example?.Parameters.Where(p => p.Required).Select(p => $" --arg {p.Name}=...") ?? []);
                output.WriteLine($"the containers keep running after afs exits; next: afs call {Quote(environmentName)} {example?.Name ?? "METHOD"}{exampleArgs}{where}, " +
                    $"afs logs {Quote(environmentName)}{where}, afs stop {Quote(environmentName)}{where}");
                return ExitCodes.Ok;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                error.WriteLine(loaded is null
                    ? "afs run: cancelled; the containers it had started are removed"
                    : $"afs run: cancelled; the environment is running (afs stop {Quote(result.GetValue(name) ?? loaded)}{where} removes it)");
                return ExitCodes.Cancelled;
            }
            catch (Exception e) when (Failures.IsExpected(e))
            {
                return Failures.Report(error, "run", e);
            }
        });
        return command;
    }

    private static string Quote(string word) => word.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or ':') ? word : $"'{word}'";

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string Plural(int count, string noun) => $"{count} {noun}{(count == 1 ? "" : "s")}";
}
