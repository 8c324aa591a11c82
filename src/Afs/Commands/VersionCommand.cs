using Affinetes.Afs.Cli;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs version</c>: the version of afs and of the host layer it builds with.</summary>
internal sealed class VersionCommand : AfsCommand
{
    public VersionCommand()
        : base("version", "Print the afs version.")
    {
    }

    protected override Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        if (context.Json)
        {
            context.Console.WriteJson(new { version = AfsCli.Version });
        }
        else
        {
            context.Console.Line($"afs {AfsCli.Version}");
        }
        return Task.FromResult(ExitCodes.Ok);
    }
}
