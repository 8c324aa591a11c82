using System.Net;
using System.Text;
using Affinetes.ValidatorClient.Results;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Affinetes.Afs.View;

/// <summary>
/// The web server of <c>afs view</c>: Kestrel on one address, pages rendered on the server from the results store
/// (read through the library at each request), a run's tasks as CSV and JSON, the live section of a running run as
/// server-sent events, and the viewer's style sheet and script from the binary.
/// </summary>
internal sealed partial class ResultsViewer(ResultStore store, ILogger logger, TimeProvider? time = null)
{
    /// <summary>How often a running run's live section is read again for its page.</summary>
    public static readonly TimeSpan LiveInterval = TimeSpan.FromSeconds(1);

    // The viewer's own style sheet and script only, and its own server-sent events; nothing may frame the pages.
    private const string ContentSecurityPolicy =
        "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    private readonly ViewPages _pages = new(store, time ?? TimeProvider.System);
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ViewLinks _links = new ViewLinks.Server($"/view.css?v={ViewAssets.Style.Tag}", $"/view.js?v={ViewAssets.Script.Tag}");

    /// <summary>Builds the server on <paramref name="address"/>:<paramref name="port"/> (0: a free port).</summary>
    public WebApplication Build(IPAddress address, int port)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(address, port);
        });
        var app = builder.Build();
        app.Use(ShowFailuresAsync);
        app.MapGet("/", RunsAsync);
        app.MapGet("/runs/{id}", RunOrExportAsync);
        app.MapGet("/runs/{id}/live", LiveAsync);
        app.MapGet("/runs/{id}/tasks/{task:long}", (HttpContext context, string id, long task) => WriteAsync(context, _pages.TaskAsync(_links, id, task, context.RequestAborted)));
        app.MapGet("/compare", CompareAsync);
        app.MapGet("/view.css", context => WriteAsset(context, ViewAssets.Style));
        app.MapGet("/view.js", context => WriteAsset(context, ViewAssets.Script));
        return app;
    }

    /// <summary>A page that cannot be rendered (the store unreadable, locked too long) says why, on the page and on stderr.</summary>
    private async Task ShowFailuresAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (!context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
        {
            Log.PageFailed(logger, context.Request.Path, e);
            context.Response.Clear();
            await WriteAsync(context, Task.FromResult(_pages.Failure(_links, $"{context.Request.Path} could not be shown: {e.Message}")));
        }
    }

    private Task RunsAsync(HttpContext context)
    {
        var q = context.Request.Query;
        var query = RunsPage.Query.Parse(q["q"], q["environment"], q["model"], q["status"], q["from"], q["to"], q["page"]);
        return WriteAsync(context, _pages.RunsAsync(_links, query, context.RequestAborted));
    }

    /// <summary><c>/runs/ID</c>, or <c>/runs/ID.csv</c> and <c>/runs/ID.json</c>: the run's tasks to download.</summary>
    private async Task RunOrExportAsync(HttpContext context, string id)
    {
        var cancellationToken = context.RequestAborted;
        foreach (var (suffix, contentType) in new[] { (".csv", "text/csv; charset=utf-8"), (".json", "application/json; charset=utf-8") })
        {
            if (!id.EndsWith(suffix, StringComparison.Ordinal) || await store.GetRunAsync(id, cancellationToken) is not null
                || await store.GetRunAsync(id[..^suffix.Length], cancellationToken) is not { } run)
            {
                continue;
            }
            var results = await store.GetResultsAsync(run.Id, cancellationToken);
            var response = context.Response;
            response.ContentType = contentType;
            response.Headers.CacheControl = "no-store";
            response.Headers.XContentTypeOptions = "nosniff";
            response.Headers.ContentDisposition = $"attachment; filename=\"{ViewLinks.Export.FileName(run.Id)}{suffix}\"";
            await (suffix == ".csv"
                ? RunExport.WriteCsvAsync(response.Body, results, cancellationToken)
                : RunExport.WriteJsonAsync(response.Body, run, results, cancellationToken));
            return;
        }
        var q = context.Request.Query;
        await WriteAsync(context, _pages.RunAsync(_links, id, RunPage.TaskQuery.Parse(q["sort"], q["dir"], q["failed"], q["page"]), cancellationToken));
    }

    /// <summary>
    /// The live section of a running run as server-sent events: <c>live</c> with its HTML each time it changed (at
    /// most every <see cref="LiveInterval"/>), then <c>finished</c> once the run is no longer running.
    /// </summary>
    private async Task LiveAsync(HttpContext context, string id)
    {
        var lifetime = context.RequestServices.GetRequiredService<IHostApplicationLifetime>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var response = context.Response;
        if (await _pages.LiveSectionAsync(id, stop.Token) is not { } section)
        {
            await WriteAsync(context, Task.FromResult(_pages.NotFound(_links, $"the store has no run '{id}'")));
            return;
        }
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        response.Headers.XContentTypeOptions = "nosniff";
        string? last = null;
        try
        {
            while (true)
            {
                if (section.Html != last)
                {
                    await WriteEventAsync(response, "live", section.Html, stop.Token);
                    last = section.Html;
                }
                if (!section.Running)
                {
                    await WriteEventAsync(response, "finished", "", stop.Token);
                    return;
                }
                await Task.Delay(LiveInterval, _time, stop.Token);
                if (await _pages.LiveSectionAsync(id, stop.Token) is not { } next)
                {
                    return; // the run is gone from the store
                }
                section = next;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The page went away, or the viewer stops.
        }
    }

    private static async Task WriteEventAsync(HttpResponse response, string name, string data, CancellationToken cancellationToken)
    {
        var text = new StringBuilder("event: ").Append(name).Append('\n');
        foreach (var line in data.Split('\n'))
        {
            text.Append("data: ").Append(line.TrimEnd('\r')).Append('\n');
        }
        await response.WriteAsync(text.Append('\n').ToString(), cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    private Task CompareAsync(HttpContext context)
    {
        var q = context.Request.Query;
        var ids = q["run"].Where(id => !string.IsNullOrEmpty(id)).Select(id => id!).Distinct().ToList();
        var query = ComparePage.Query.Parse(ids, q["a"], q["b"], q["sort"], q["dir"], q["page"]);
        return WriteAsync(context, _pages.CompareAsync(_links, query, context.RequestAborted));
    }

    private static async Task WriteAsync(HttpContext context, Task<ViewPages.Page> rendering)
    {
        var page = await rendering;
        var response = context.Response;
        response.StatusCode = page.Status;
        // Runs change while they are written: pages are never kept.
        response.Headers.CacheControl = "no-store";
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.ContentType = "text/html; charset=utf-8";
        await response.WriteAsync(page.Html, context.RequestAborted);
    }

    private static Task WriteAsset(HttpContext context, ViewAssets.Asset asset)
    {
        var response = context.Response;
        var etag = $"\"{asset.Tag}\"";
        response.Headers.ETag = etag;
        // Named by its hash (?v=): kept for good, and a new afs version's file has another name.
        response.Headers.CacheControl = "public, max-age=31536000, immutable";
        response.Headers.XContentTypeOptions = "nosniff";
        if (context.Request.Headers.IfNoneMatch.Contains(etag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Bytes.Length;
        return response.Body.WriteAsync(asset.Bytes, context.RequestAborted).AsTask();
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "{Path} could not be shown")]
        public static partial void PageFailed(ILogger logger, string path, Exception error);
    }
}
