using System.Text.Encodings.Web;

namespace Affinetes.Afs.View;

/// <summary>Text into HTML: everything the store holds (errors, results, labels) is written through <see cref="Encode"/>.</summary>
internal static class Html
{
    public static string Encode(string? text) => text is null ? "" : HtmlEncoder.Default.Encode(text);

    /// <summary>A path segment or query value.</summary>
    public static string Url(string text) => Uri.EscapeDataString(text);
}
