using System.CommandLine;
using System.Net;
using Affinetes.Afs.Cli;
using Affinetes.Afs.View;
using Affinetes.ValidatorClient.Results;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs view [--store FILE] [--port N] [--bind ADDRESS]</c>: a local web page over the results store, until Ctrl+C.</summary>
internal sealed class ViewCommand : AfsCommand
{
    private readonly Option<string?> _store = new("--store") { Description = $"the results store (default: ${ResultStore.PathVariable}, else {ResultStore.DefaultPath})" };
    private readonly Option<int> _port = new("--port") { Description = "the port to serve on (default 0: a free one, printed)", DefaultValueFactory = _ => 0 };
    private readonly Option<string> _bind = new("--bind") { Description = "the address to serve on (default 127.0.0.1: this machine only)", DefaultValueFactory = _ => "127.0.0.1" };

    public ViewCommand()
        : base("view", "Serve a local web page over the results store: runs, their tasks, failures and charts, until Ctrl+C.")
    {
        Options.Add(_store);
        Options.Add(_port);
        Options.Add(_bind);
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
}
