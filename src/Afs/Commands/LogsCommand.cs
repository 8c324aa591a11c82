using System.CommandLine;
using System.Globalization;
using Affinetes.ValidatorClient.Backends.Docker;
using Docker.DotNet.Models;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs logs NAME [-f] [--tail N]</c>: the log lines of every replica of an environment.</summary>
internal static class LogsCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "the environment's name (afs ps lists them)" };
        var follow = new Option<bool>("--follow", "-f") { Description = "keep printing new lines until Ctrl+C" };
        var tail = new Option<int?>("--tail", "-n") { Description = "only the last N lines of each replica" };
        var json = new Option<bool>("--json") { Description = "one JSON object per line: {container, replica, line}" };
        var hosts = Engines.HostOption("repeatable: the replicas on each are read");
        var command = new Command("logs", "Print the log lines of an environment's containers, prefixed with the container when there are several.")
        {
            name, follow, tail, hosts, json,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            var environmentName = result.GetValue(name)!;
            try
            {
                if (result.GetValue(tail) is < 0)
                {
                    throw new ArgumentException("--tail must be 0 or more");
                }
                await using var engines = await Engines.ConnectAsync(Engines.Resolve(result, hosts), cancellationToken);
                var containers = await engines.ListAsync(environmentName, includeStopped: true, cancellationToken);
                if (containers.Count == 0)
                {
                    throw new ArgumentException($"no containers of environment '{environmentName}' (afs ps --all lists them)");
                }
                var asJson = result.GetValue(json);
                var prefixed = containers.Count > 1;
                var gate = new Lock();
                async Task PumpAsync(EngineContainer replica)
                {
                    var container = replica.Container;
                    using var stream = await Engines.OnEngineAsync(replica.Engine.Spec, () => replica.Engine.Client.Containers.GetContainerLogsAsync(container.Id, new ContainerLogsParameters
                    {
                        ShowStdout = true,
                        ShowStderr = true,
                        Follow = result.GetValue(follow),
                        Tail = result.GetValue(tail)?.ToString(CultureInfo.InvariantCulture) ?? "all",
                    }, cancellationToken));
                    await ContainerLogs.PumpAsync(stream, line =>
                    {
                        lock (gate)
                        {
                            if (asJson)
                            {
                                Terminal.WriteJson(output, new { container = container.ContainerName, replica = container.Replica, line });
                            }
                            else
                            {
                                output.WriteLine(prefixed ? $"[{container.ContainerName}] {line}" : line);
                            }
                        }
                    }, cancellationToken);
                }
                if (result.GetValue(follow))
                {
                    await Task.WhenAll(containers.Select(PumpAsync));
                }
                else
                {
                    foreach (var container in containers)
                    {
                        await PumpAsync(container); // one replica after the other, so that each one's lines stay together
                    }
                }
                return ExitCodes.Ok;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && result.GetValue(follow))
            {
                return ExitCodes.Ok; // Ctrl+C is how following ends
            }
            catch (Exception e) when (Failures.IsExpected(e))
            {
                return Failures.Report(result.InvocationConfiguration.Error, "logs", e);
            }
        });
        return command;
    }
}
