using System.Net;
using System.Security.Cryptography;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Affinetes.Afs.View;

/// <summary>
/// The web server of <c>afs view</c>: Kestrel on one address, pages rendered on the server from the results store
/// (read through the library, at each request, so running evaluations show up on reload), one embedded style sheet.
/// </summary>
internal sealed partial class ResultsViewer(IResultStore store, ILogger logger)
{
    private const string StylePath = "/view.css";

    // Only the viewer's own style sheet; no script at all; nothing may frame the pages.
    private const string ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    private static readonly Lazy<(byte[] Bytes, string Tag)> Style = new(() =>
    {
        using var stream = typeof(ResultsViewer).Assembly.GetManifestResourceStream("view/view.css")
            ?? throw new InvalidOperationException("afs was built without its view/view.css resource");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var bytes = copy.ToArray();
        return (bytes, Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]);
    });

    private static string StyleUrl => $"{StylePath}?v={Style.Value.Tag}";

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
        app.MapGet("/runs/{id}", RunAsync);
        app.MapGet("/runs/{id}/tasks/{task:long}", TaskAsync);
        app.MapGet("/compare", CompareAsync);
        app.MapGet(StylePath, WriteStyle);
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
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            await WritePageAsync(context, "Error", ViewPages.Failure($"{context.Request.Path} could not be shown: {e.Message}"), ("runs", "/"));
        }
    }

    private async Task RunsAsync(HttpContext context)
    {
        var runs = await store.ListRunsAsync(100, context.RequestAborted);
        await WritePageAsync(context, "Runs", ViewPages.Runs(await RowsAsync(runs, context.RequestAborted)));
    }

    private async Task RunAsync(HttpContext context, string id)
    {
        if (await store.GetRunAsync(id, context.RequestAborted) is not { } run)
        {
            await WriteNotFoundAsync(context, $"the store has no run '{id}'");
            return;
        }
        var results = await store.GetResultsAsync(id, context.RequestAborted);
        var q = context.Request.Query;
        var query = ViewPages.TaskQuery.Parse(q["sort"], q["dir"], q["failed"], q["page"]);
        await WritePageAsync(context, "Run " + run.Id, ViewPages.Run(run, results, EvaluationSummary.Of([.. results]), query), ("runs", "/"), (run.Id, null));
    }

    private async Task TaskAsync(HttpContext context, string id, long task)
    {
        if (await store.GetRunAsync(id, context.RequestAborted) is not { } run)
        {
            await WriteNotFoundAsync(context, $"the store has no run '{id}'");
            return;
        }
        var result = (await store.GetResultsAsync(id, context.RequestAborted)).FirstOrDefault(r => r.TaskId == task);
        if (result is null)
        {
            await WriteNotFoundAsync(context, $"run '{id}' has no result for task {task} (yet)");
            return;
        }
        await WritePageAsync(context, $"Task {task}", ViewPages.Task(run, result), ("runs", "/"), (run.Id, "/runs/" + Html.Url(run.Id)), ($"task {task}", null));
    }

    private async Task CompareAsync(HttpContext context)
    {
        var ids = context.Request.Query["run"].Where(id => !string.IsNullOrEmpty(id)).Select(id => id!).Distinct().ToList();
        var runs = new List<RunInfo>();
        if (ids.Count == 0)
        {
            runs.AddRange(await store.ListRunsAsync(100, context.RequestAborted));
        }
        foreach (var id in ids)
        {
            if (await store.GetRunAsync(id, context.RequestAborted) is not { } run)
            {
                await WriteNotFoundAsync(context, $"the store has no run '{id}'");
                return;
            }
            runs.Add(run);
        }
        await WritePageAsync(context, "Compare", ViewPages.Compare(await RowsAsync(runs, context.RequestAborted)), ("runs", "/"), ("compare", null));
    }

    private async Task<List<ViewPages.RunRow>> RowsAsync(IReadOnlyList<RunInfo> runs, CancellationToken cancellationToken)
    {
        var rows = new List<ViewPages.RunRow>(runs.Count);
        foreach (var run in runs)
        {
            rows.Add(new ViewPages.RunRow(run, EvaluationSummary.Of([.. await store.GetResultsAsync(run.Id, cancellationToken)])));
        }
        return rows;
    }

    private Task WriteNotFoundAsync(HttpContext context, string message)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return WritePageAsync(context, "Not found", ViewPages.NotFound(message), ("runs", "/"));
    }

    private Task WritePageAsync(HttpContext context, string title, string body, params (string, string?)[] crumbs)
    {
        var headers = context.Response.Headers;
        // Runs change while they are written: pages are never kept.
        headers.CacheControl = "no-store";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync(ViewPages.Layout(title, store.Path, StyleUrl, body, crumbs), context.RequestAborted);
    }

    private static Task WriteStyle(HttpContext context)
    {
        var (bytes, tag) = Style.Value;
        var response = context.Response;
        var etag = $"\"{tag}\"";
        response.Headers.ETag = etag;
        // Named by its hash (?v=): kept for good, and a new afs version's sheet has another name.
        response.Headers.CacheControl = "public, max-age=31536000, immutable";
        response.Headers.XContentTypeOptions = "nosniff";
        if (context.Request.Headers.IfNoneMatch.Contains(etag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        response.ContentType = "text/css; charset=utf-8";
        response.ContentLength = bytes.Length;
        return response.Body.WriteAsync(bytes, context.RequestAborted).AsTask();
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "{Path} could not be shown")]
        public static partial void PageFailed(ILogger logger, string path, Exception error);
    }
}
