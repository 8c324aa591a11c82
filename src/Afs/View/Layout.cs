using System.Text;

namespace Affinetes.Afs.View;

/// <summary>The page around every view: head (style sheet, the script where served), header, breadcrumbs, main.</summary>
internal static class Layout
{
    /// <summary>A crumb: text, and where it leads (null for the page itself).</summary>
    public readonly record struct Crumb(string Text, string? Href);

    /// <summary>
    /// The whole page: <paramref name="body"/> in the layout. <paramref name="reloadWithoutScript"/> for a run in
    /// progress: without script the page reloads itself every few seconds (with script it updates in place).
    /// </summary>
    public static string Page(ViewLinks links, string title, string storePath, string body, bool reloadWithoutScript = false, params Crumb[] crumbs)
    {
        var html = new StringBuilder(body.Length + 2048);
        html.Append(Format.Inv, $"""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{Html.Encode(title)} · afs view</title><link rel="icon" href="data:,"><link rel="stylesheet" href="{links.Style}">
            """);
        if (reloadWithoutScript && links.Served)
        {
            html.Append("<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>");
        }
        if (links.Script is { } script)
        {
            html.Append(Format.Inv, $"<script src=\"{script}\" defer></script>");
        }
        html.Append(Format.Inv, $"""
            </head>
            <body><header><h1><a href="{links.Home}">afs view</a></h1><span class="store">{Html.Encode(storePath)}</span>{(links.Served ? "" : "<span class=\"muted\">(exported)</span>")}</header>
            """);
        if (crumbs.Length > 0)
        {
            html.Append("<nav class=\"crumbs\" aria-label=\"Breadcrumbs\">");
            html.AppendJoin(" / ", crumbs.Select(c => c.Href is null ? Html.Encode(c.Text) : $"<a href=\"{c.Href}\">{Html.Encode(c.Text)}</a>"));
            html.Append("</nav>");
        }
        return html.Append("<main id=\"main\">").Append(body).Append("</main></body></html>").ToString();
    }

    public static string NotFound(ViewLinks links, string message) => Problem(links, "Not found", message);

    public static string Failure(ViewLinks links, string message) => Problem(links, "Error", message);

    private static string Problem(ViewLinks links, string title, string message) =>
        $"<h2>{title}</h2><p class=\"card bad\">{Html.Encode(message)}</p><p><a href=\"{links.Home}\">All runs</a></p>";
}
