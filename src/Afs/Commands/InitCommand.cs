using System.CommandLine;
using Affinetes.Afs.Cli;
using Affinetes.Injector.Detection;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs init NAME [--kind python]</c>: a starter environment that builds and answers as generated.</summary>
internal sealed class InitCommand : AfsCommand
{
    private readonly Argument<string> _name = new("name") { Description = "directory to create (its name names the environment)" };
    private readonly Option<string> _kind = new("--kind")
    {
        Description = $"kind of environment: {string.Join(", ", KindDetector.Default.Kinds.Select(k => k.Name))}",
        DefaultValueFactory = _ => "python",
    };

    public InitCommand()
        : base("init", "Write a working starter environment.")
    {
        Arguments.Add(_name);
        Options.Add(_kind);
    }

    protected override Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var given = context.Get(_name)!;
        var directory = Path.GetFullPath(given);
        var environmentName = Path.GetFileName(directory.TrimEnd('/')).ToLowerInvariant();
        var chosen = KindDetector.Default.Find(context.Get(_kind)!)
            ?? throw new UsageException($"unknown kind '{context.Get(_kind)}'; use one of: {string.Join(", ", KindDetector.Default.Kinds.Select(k => k.Name))}");
        var files = chosen.StarterFiles(environmentName);
        if (files.Count == 0)
        {
            throw new UsageException($"there is no starter for {chosen.Name} environments (they are detected when built); for an environment with its own server use --kind sidecar");
        }
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            throw new UsageException($"{directory} exists and is not empty; choose a new name");
        }
        Directory.CreateDirectory(directory);
        foreach (var (file, content) in files)
        {
            var path = Path.Combine(directory, file);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, content);
        }
        var next = $"afs build {given} --tag {environmentName}:dev";
        if (context.Json)
        {
            context.Console.WriteJson(new { directory, kind = chosen.Name, files = files.Keys.Order(StringComparer.Ordinal), next });
        }
        else
        {
            context.Console.Line($"created {chosen.Name} environment {directory}");
            context.Console.Line($"next: {next}");
        }
        return Task.FromResult(ExitCodes.Ok);
    }
}
