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

    /// <summary>The store's full path: <c>--store</c>, else <c>$AFFINETES_RESULTS_DB</c>, else the default.</summary>
    public static string PathOf(CommandContext context, Option<string?> option) => Path.GetFullPath(context.Get(option) ?? ResultStore.DefaultPath);

    /// <summary>
    /// The path of a store that must exist already (commands that read one): a mistyped path is said so, not made
    /// into a new empty store.
    /// </summary>
    public static string Existing(CommandContext context, Option<string?> option)
    {
        var path = PathOf(context, option);
        return File.Exists(path)
            ? path
            : throw new UsageException($"there is no results store at {path}: afs eval writes one there, or give --store FILE (or ${ResultStore.PathVariable})");
    }

    /// <summary><c> --store PATH</c> when one was given, for the next commands a message suggests.</summary>
    public static string Flag(CommandContext context, Option<string?> option) =>
        context.Get(option) is { } path ? $" --store {path}" : "";
}
