using System.CommandLine;
using System.Net;
using Affinetes.Afs.Cli;
using Affinetes.Afs.View;
using Affinetes.ValidatorClient.Results;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Affinetes.Afs.Commands;

/// <summary>
/// <c>afs view [--store FILE] [--port N] [--bind ADDRESS]</c>: a local web page over the results store, until Ctrl+C;
/// <c>afs view --export DIR [--run ID ...]</c>: the same pages written as files to share.
/// </summary>
internal sealed class ViewCommand : AfsCommand
{
    private readonly Option<string?> _store = new("--store") { Description = $"the results store (default: ${ResultStore.PathVariable}, else {ResultStore.DefaultPath})" };
    private readonly Option<int> _port = new("--port") { Description = "the port to serve on (default 0: a free one, printed)", DefaultValueFactory = _ => 0 };
    private readonly Option<string> _bind = new("--bind") { Description = "the address to serve on (default 127.0.0.1: this machine only)", DefaultValueFactory = _ => "127.0.0.1" };
    private readonly Option<string?> _export = new("--export") { Description = "write the pages as files into this directory (relative links: they open from disk) instead of serving them" };
    private readonly Option<string[]> _runs = new("--run") { Description = "with --export: only this run (repeatable; default: every run)", AllowMultipleArgumentsPerToken = false };

    public ViewCommand()
        : base("view", "Serve a local web page over the results store: runs, their tasks and conversations, failures and charts, until Ctrl+C; or --export DIR.")
    {
        Options.Add(_store);
        Options.Add(_port);
        Options.Add(_bind);
        Options.Add(_export);
        Options.Add(_runs);
    }

    protected override string CancelledMessage(CommandContext context) => "stopped serving; the store is unchanged";

    protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var port = context.Get(_port);
        var bind = context.Get(_bind) ?? "127.0.0.1";
        if (!IPAddress.TryParse(bind, out var address))
        {
            throw new UsageException($"--bind {bind} is not an IP address; use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)");
        }
        if (port is < 0 or > 65535)
        {
            throw new UsageException($"--port {port} is not a port; use 1-65535, or 0 for a free one");
        }
        var path = StoreOption.Existing(context, _store);
        var runs = context.Get(_runs) ?? [];
        if (context.Get(_export) is { } directory)
        {
            return await ExportAsync(context, path, Path.GetFullPath(directory), runs, cancellationToken);
        }
        if (runs.Length > 0)
        {
            throw new UsageException("--run chooses the runs of an export; give --export DIR too (the server shows every run)");
        }
        await using var store = await ResultStore.OpenAsync(path, context.LoggerFactory, cancellationToken);
        await using var app = new ResultsViewer(store, context.LoggerFactory.CreateLogger("afs.view")).Build(address, port);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            throw new UsageException($"{bind}:{port} is already in use; give another --port, or 0 for a free one");
        }
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        if (context.Json)
        {
            context.Console.WriteJson(new { url, store = path });
        }
        else
        {
            context.Console.Line($"afs view: {path} at {url}/ (Ctrl+C stops)");
        }
        if (!IPAddress.IsLoopback(address))
        {
            context.Console.Note($"serving on {bind}: anyone who can reach this machine can read the results");
        }
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        finally
        {
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await app.StopAsync(stopping.Token);
        }
        return ExitCodes.Ok;
    }

    private static async Task<int> ExportAsync(CommandContext context, string path, string directory, IReadOnlyList<string> runs, CancellationToken cancellationToken)
    {
        if (File.Exists(directory))
        {
            throw new UsageException($"--export {directory} is a file; give a directory (it is created when missing)");
        }
        await using var store = await ResultStore.OpenAsync(path, context.LoggerFactory, cancellationToken);
        StaticExport.Written written;
        try
        {
            written = await new StaticExport(store, TimeProvider.System).WriteAsync(directory, runs,
                run => context.Console.Progress($"afs view: exported run {run.Id} ({run.ResultCount} tasks)"), cancellationToken);
        }
        catch (IOException e)
        {
            throw new UsageException($"cannot write the export into {directory}: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new UsageException($"cannot write the export into {directory}: {e.Message}");
        }
        var index = Path.Combine(directory, "index.html");
        if (context.Json)
        {
            context.Console.WriteJson(new { directory, index, runs = written.Runs, tasks = written.Tasks, files = written.Files });
        }
        else
        {
            context.Console.Line($"afs view: {written.Runs} run(s), {written.Tasks} task page(s) in {directory}; open {new Uri(index).AbsoluteUri}");
        }
        return ExitCodes.Ok;
    }
}
