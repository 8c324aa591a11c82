using System.CommandLine;
using System.Text;
using Affinetes.Afs.Cli;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs completion bash|zsh|fish</c>: a completion script for the shell, made from the command tree itself (every
/// command, subcommand and option), so it never lags behind afs. Install with
/// <c>source &lt;(afs completion bash)</c> in <c>~/.bashrc</c>, the same in <c>~/.zshrc</c>, or
/// <c>afs completion fish &gt; ~/.config/fish/completions/afs.fish</c>.
/// </summary>
internal sealed class CompletionCommand : AfsCommand
{
    private readonly Argument<string> _shell = new("shell") { Description = "bash, zsh or fish" };

    public CompletionCommand()
        : base("completion", "Print a shell completion script: source <(afs completion bash), likewise for zsh; afs completion fish > ~/.config/fish/completions/afs.fish")
    {
        _shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        Arguments.Add(_shell);
    }

    protected override Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var root = AfsCli.Build();
        var script = context.Get(_shell) switch
        {
            "fish" => Fish(root),
            "zsh" => "#compdef afs\nautoload -U +X bashcompinit && bashcompinit\n" + Bash(root),
            _ => Bash(root),
        };
        context.Console.Out.Write(script);
        return Task.FromResult(ExitCodes.Ok);
    }

    /// <summary>Every command with its path (<c>/basilica/ls</c>), root first.</summary>
    private static IEnumerable<(string Path, Command Command)> Walk(Command command, string path = "")
    {
        yield return (path, command);
        foreach (var sub in command.Subcommands.Where(c => !c.Hidden))
        {
            foreach (var nested in Walk(sub, $"{path}/{sub.Name}"))
            {
                yield return nested;
            }
        }
    }

    private static IEnumerable<string> Words(Command command) =>
        command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name)
            .Concat(command.Options.Where(o => !o.Hidden).Concat(Recursive(command)).SelectMany(o => new[] { o.Name }.Concat(o.Aliases)))
            .Append("--help").Distinct(StringComparer.Ordinal);

    /// <summary>The options every command takes (<c>--json</c>, <c>--verbose</c>), declared once on the root.</summary>
    private static IEnumerable<Option> Recursive(Command command) => command is RootCommand ? [] : [AfsCommand.JsonOption, AfsCommand.VerboseOption];

    private static string Bash(RootCommand root)
    {
        var commands = Walk(root).ToList();
        var script = new StringBuilder();
        script.Append("""
            # afs completion for bash (and zsh through bashcompinit): made by `afs completion bash`.
            _afs() {
              local cur="${COMP_WORDS[COMP_CWORD]}" path="" w i words=""
              for ((i = 1; i < COMP_CWORD; i++)); do
                w="${COMP_WORDS[i]}"
                case "$path/$w" in

            """);
        script.Append("    ").Append(string.Join('|', commands.Where(c => c.Path.Length > 0).Select(c => Quote(c.Path)))).Append(") path=\"$path/$w\" ;;\n");
        script.Append("""
                esac
              done
              case "$path" in

            """);
        foreach (var (path, command) in commands)
        {
            script.Append("    ").Append(Quote(path)).Append(") words=").Append(Quote(string.Join(' ', Words(command)))).Append(" ;;\n");
        }
        script.Append("""
              esac
              COMPREPLY=($(compgen -W "$words" -- "$cur"))
            }
            complete -o default -F _afs afs

            """);
        return script.ToString();
    }

    private static string Fish(RootCommand root)
    {
        var script = new StringBuilder("# afs completion for fish: made by `afs completion fish`.\ncomplete -c afs -e\n");
        foreach (var (path, command) in Walk(root))
        {
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var children = command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToList();
            var condition = parts.Length == 0
                ? "__fish_use_subcommand"
                : string.Join("; and ", parts.Select(p => $"__fish_seen_subcommand_from {p}"));
            var leaf = children.Count == 0 || parts.Length == 0 ? condition : $"{condition}; and not __fish_seen_subcommand_from {string.Join(' ', children)}";
            foreach (var sub in command.Subcommands.Where(c => !c.Hidden))
            {
                script.Append($"complete -c afs -f -n {Quote(leaf)} -a {Quote(sub.Name)} -d {Quote(Short(sub.Description))}\n");
            }
            foreach (var option in command.Options.Where(o => !o.Hidden).Concat(Recursive(command)))
            {
                var names = new[] { option.Name }.Concat(option.Aliases).Where(n => n.StartsWith("--", StringComparison.Ordinal)).Select(n => $" -l {n[2..]}");
                var shorts = new[] { option.Name }.Concat(option.Aliases).Where(n => n.Length == 2 && n[0] == '-').Select(n => $" -s {n[1..]}");
                script.Append($"complete -c afs -n {Quote(leaf)}{string.Concat(names)}{string.Concat(shorts)} -d {Quote(Short(option.Description))}\n");
            }
        }
        return script.ToString();
    }

    private static string Short(string? description) => description is null ? "" : description.Split(['(', ';', ':'], 2)[0].Trim();

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
