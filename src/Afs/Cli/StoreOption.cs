using System.CommandLine;
using Affinetes.ValidatorClient.Results;

namespace Affinetes.Afs.Cli;

/// <summary>The <c>--store</c> option of the commands that read or write the results store.</summary>
internal static class StoreOption
{
    public static Option<string?> Create() => new("--store")
    {
        Description = $"results store (SQLite file); default ${ResultStore.PathVariable} or {ResultStore.DefaultPath}",
    };

    /// <summary><c> --store PATH</c> when one was given, for the next commands a message suggests.</summary>
    public static string Flag(CommandContext context, Option<string?> option) =>
        context.Get(option) is { } path ? $" --store {path}" : "";
}
