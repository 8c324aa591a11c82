using System.CommandLine;

namespace Affinetes.Afs.Cli;

/// <summary>
/// The base of every afs command: the shared options (<c>--json</c>, <c>--verbose</c>, and <c>--host</c> where the
/// command reaches Docker engines), one place that turns exceptions into a one-line message and an exit code, and
/// Ctrl+C/SIGTERM handled alike everywhere (a message on stderr, exit 130). A command only implements
/// <see cref="ExecuteAsync"/> and writes through the <see cref="CommandContext"/> it is given.
/// </summary>
internal abstract class AfsCommand : Command
{
    /// <summary><c>--json</c>: every command can print its result as JSON (one document or JSON lines).</summary>
    public static readonly Option<bool> JsonOption = new("--json") { Description = "print the result as JSON", Recursive = true };

    /// <summary><c>--verbose</c>: the library's own log messages (debug level) on stderr.</summary>
    public static readonly Option<bool> VerboseOption = new("--verbose", "-v") { Description = "print what afs and the library do, on stderr", Recursive = true };

    private Option<string[]>? _hosts;

    protected AfsCommand(string name, string description)
        : base(name, description)
    {
        SetAction(InvokeAsync);
    }

    /// <summary>Adds the repeatable <c>--host</c> option; <paramref name="purpose"/> says what several engines mean to this command.</summary>
    protected void AddHostOption(string purpose)
    {
        _hosts = Engines.HostOption(purpose);
        Options.Add(_hosts);
    }

    /// <summary>The command as messages name it (<c>afs NAME: ...</c>); a subcommand says its parent too.</summary>
    protected virtual string DisplayName => Name;

    /// <summary>Runs the command; returns its exit code (<see cref="ExitCodes"/>).</summary>
    protected abstract Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken);

    /// <summary>What the command says when Ctrl+C or SIGTERM stopped it (after it cleaned up); override to say what is left.</summary>
    protected virtual string CancelledMessage(CommandContext context) => "cancelled";

    private async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        await using var context = new CommandContext(DisplayName, parseResult, _hosts);
        try
        {
            return await ExecuteAsync(context, cancellationToken);
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            context.Console.Error(e is CommandCancelledException said ? said.Message : CancelledMessage(context));
            return ExitCodes.Cancelled;
        }
        catch (Exception e) when (ErrorReport.IsExpected(e))
        {
            var (code, message) = ErrorReport.Describe(e);
            context.Console.Error(message);
            return code;
        }
    }
}

/// <summary>Ctrl+C or SIGTERM stopped a command, which says what it kept and how to go on (the message is printed as it is).</summary>
internal sealed class CommandCancelledException(string message, CancellationToken token) : OperationCanceledException(message, token);
