using System.CommandLine;
using System.Reflection;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Commands;

namespace Affinetes.Afs;

/// <summary>The <c>afs</c> command tree. Each command lives in its own file and is added here.</summary>
public static class AfsCli
{
    public static string Version { get; } =
        typeof(AfsCli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>
    /// Parses and runs <paramref name="args"/>. A usage error (unknown option, a value that does not parse) is one
    /// line on stderr, <c>afs COMMAND: what is wrong</c>, pointing to the command's help, and exit code 1.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, InvocationConfiguration configuration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var parsed = Build().Parse(args);
        if (parsed.Errors.Count == 0 || parsed.Action is System.CommandLine.Help.HelpAction)
        {
            return await parsed.InvokeAsync(configuration, cancellationToken);
        }
        var command = parsed.CommandResult.Command;
        var name = command is RootCommand ? "" : " " + command.Name;
        // A mistyped command: one line naming the nearest, instead of "Required command was not provided" first.
        if (command.Subcommands.Count > 0 && parsed.UnmatchedTokens.FirstOrDefault() is { } unknown && !unknown.StartsWith('-')
            && Nearest.Of(unknown, command.Subcommands.Select(c => c.Name)) is { } nearest)
        {
            await configuration.Error.WriteLineAsync($"afs{name}: there is no command '{unknown}'; did you mean '{nearest}'? (afs{name} --help lists them)");
            return Cli.ExitCodes.Failure;
        }
        foreach (var error in parsed.Errors)
        {
            await configuration.Error.WriteLineAsync($"afs{name}: {error.Message}");
        }
        await configuration.Error.WriteLineAsync($"(afs{name} --help says how to use it)");
        return Cli.ExitCodes.Failure;
    }

    public static RootCommand Build()
    {
        var root = new RootCommand("afs: build, run and call Affinetes evaluation environments.");
        root.Options.Add(AfsCommand.JsonOption);
        root.Options.Add(AfsCommand.VerboseOption);
        root.Subcommands.Add(new VersionCommand());
        root.Subcommands.Add(new InitCommand());
        root.Subcommands.Add(new BuildCommand());
        root.Subcommands.Add(new RunCommand());
        root.Subcommands.Add(new CallCommand());
        root.Subcommands.Add(new PlayCommand());
        root.Subcommands.Add(new MethodsCommand());
        root.Subcommands.Add(new PsCommand());
        root.Subcommands.Add(new LogsCommand());
        root.Subcommands.Add(new StopCommand());
        root.Subcommands.Add(new CleanupCommand());
        root.Subcommands.Add(new BasilicaCommand());
        root.Subcommands.Add(new ViewCommand());
        root.Subcommands.Add(new EvalCommand());
        root.Subcommands.Add(new RunsCommand());
        root.Subcommands.Add(new ShowCommand());
        root.Subcommands.Add(new ValidateCommand());
        root.Subcommands.Add(new ScoreCommand());
        root.Subcommands.Add(new BaselineCommand());
        root.Subcommands.Add(new MinersCommand());
        root.Subcommands.Add(new CompletionCommand());
        return root;
    }
}
