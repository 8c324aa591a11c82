using System.CommandLine;
using System.Reflection;

namespace Affinetes.Afs;

/// <summary>The <c>afs</c> command tree. Each command lives in its own file and is added here.</summary>
public static class AfsCli
{
    public static string Version { get; } =
        typeof(AfsCli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static RootCommand Build()
    {
        var root = new RootCommand("afs: build, run and call Affinetes evaluation environments.");
        var version = new Command("version", "Print the afs version.");
        version.SetAction(result => result.InvocationConfiguration.Output.WriteLine($"afs {Version}"));
        root.Subcommands.Add(version);
        root.Subcommands.Add(Commands.InitCommand.Create());
        root.Subcommands.Add(Commands.BuildCommand.Create());
        root.Subcommands.Add(Commands.RunCommand.Create());
        root.Subcommands.Add(Commands.CallCommand.Create());
        root.Subcommands.Add(Commands.PsCommand.Create());
        root.Subcommands.Add(Commands.LogsCommand.Create());
        root.Subcommands.Add(Commands.StopCommand.Create());
        root.Subcommands.Add(Commands.CleanupCommand.Create());
        return root;
    }
}
