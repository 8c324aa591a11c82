using System.Globalization;
using System.Text;

namespace Affinetes.Afs.View;

/// <summary>
/// The viewer's charts, drawn on the server as SVG (no script, no charting library to ship): histograms of scores
/// and latencies, and bars with 95% intervals for runs side by side. Each bar is a <c>rect.bar</c> carrying its count
/// or value in a data attribute and a <c>title</c> a screen reader or a hover reads.
/// </summary>
internal static class SvgCharts
{
    private const int Width = 560;
    private const int Height = 220;
    private const int Left = 44;
    private const int Right = 12;
    private const int Top = 12;
    private const int Bottom = 40;

    /// <summary>One bin of a histogram: [<see cref="From"/>, <see cref="To"/>) holding <see cref="Count"/> values.</summary>
    public readonly record struct Bin(double From, double To, int Count);

    /// <summary>
    /// <paramref name="values"/> in <paramref name="bins"/> equal bins from their minimum to their maximum (the last
    /// bin includes the maximum); one bin when they are all equal; none for no values.
    /// </summary>
    public static IReadOnlyList<Bin> Bins(IReadOnlyCollection<double> values, int bins)
    {
        if (values.Count == 0)
        {
            return [];
        }
        double min = values.Min(), max = values.Max();
        if (max <= min)
        {
            return [new Bin(min, max, values.Count)];
        }
        var width = (max - min) / bins;
        var counts = new int[bins];
        foreach (var value in values)
        {
            counts[Math.Min((int)((value - min) / width), bins - 1)]++;
        }
        return [.. counts.Select((count, i) => new Bin(min + (i * width), i == bins - 1 ? max : min + ((i + 1) * width), count))];
    }

    /// <summary>A histogram of <paramref name="bins"/>; <paramref name="format"/> writes a bin's edge for the axis.</summary>
    public static string Histogram(string name, string label, IReadOnlyList<Bin> bins, Func<double, string> format)
    {
        var svg = Start(name, label);
        if (bins.Count == 0)
        {
            svg.Append(Text(Width / 2.0, Height / 2.0, "no values", "middle"));
            return End(svg);
        }
        var most = Math.Max(1, bins.Max(b => b.Count));
        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        var slot = plotWidth / (double)bins.Count;
        YAxis(svg, most.ToString(CultureInfo.InvariantCulture));
        for (var i = 0; i < bins.Count; i++)
        {
            var bin = bins[i];
            var height = plotHeight * bin.Count / (double)most;
            var x = Left + (i * slot) + 1;
            var range = bins.Count == 1 ? format(bin.From) : $"{format(bin.From)} to {format(bin.To)}";
            svg.Append(CultureInfo.InvariantCulture, $"""<rect class="bar" data-count="{bin.Count}" x="{N(x)}" y="{N(Top + plotHeight - height)}" width="{N(Math.Max(1, slot - 2))}" height="{N(height)}"><title>{Html.Encode(range)}: {bin.Count}</title></rect>""");
        }
        svg.Append(Text(Left, Height - Bottom + 16, format(bins[0].From), "start"));
        svg.Append(Text(Width - Right, Height - Bottom + 16, format(bins[^1].To), "end"));
        svg.Append(Text(Left + (plotWidth / 2.0), Height - 6, label, "middle"));
        return End(svg);
    }

    /// <summary>
    /// One bar per item (its mean), with its 95% interval as a whisker; the axis runs from 0 to the highest end. Each
    /// bar is labelled <paramref name="items"/>' short label below it and carries its full title on hover.
    /// </summary>
    public static string Bars(string name, string label, IReadOnlyList<(string Label, string Title, double Value, double Low, double High)> items)
    {
        var svg = Start(name, label);
        if (items.Count == 0)
        {
            svg.Append(Text(Width / 2.0, Height / 2.0, "no runs", "middle"));
            return End(svg);
        }
        var top = Math.Max(1e-9, items.Max(i => Math.Max(i.High, i.Value)));
        var floor = Math.Min(0, items.Min(i => Math.Min(i.Low, i.Value)));
        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        double Y(double v) => Top + (plotHeight * (top - v) / (top - floor));
        var slot = plotWidth / (double)items.Count;
        YAxis(svg, Fmt(top));
        foreach (var (item, i) in items.Select((item, i) => (item, i)))
        {
            var x = Left + (i * slot) + (slot * 0.2);
            var width = slot * 0.6;
            var y = Y(Math.Max(0, item.Value));
            var height = Math.Abs(Y(item.Value) - Y(0));
            var center = x + (width / 2);
            svg.Append(CultureInfo.InvariantCulture, $"""<rect class="bar" data-label="{Html.Encode(item.Label)}" data-value="{Fmt(item.Value)}" x="{N(x)}" y="{N(y)}" width="{N(width)}" height="{N(height)}"><title>{Html.Encode(item.Label)} · {Html.Encode(item.Title)}: {Fmt(item.Value)} (95% CI {Fmt(item.Low)} to {Fmt(item.High)})</title></rect>""");
            svg.Append(CultureInfo.InvariantCulture, $"""<line class="ci" x1="{N(center)}" x2="{N(center)}" y1="{N(Y(item.Low))}" y2="{N(Y(item.High))}"/>""");
            svg.Append(Text(center, Height - Bottom + 16, Shorten(item.Label, (int)(slot / 6.5)), "middle", "bar-label"));
        }
        svg.Append(Text(Left + (plotWidth / 2.0), Height - 6, label, "middle"));
        return End(svg);
    }

    private static StringBuilder Start(string name, string label) => new StringBuilder()
        .Append(CultureInfo.InvariantCulture, $"""<svg class="chart" data-chart="{name}" viewBox="0 0 {Width} {Height}" role="img" aria-label="{Html.Encode(label)}" xmlns="http://www.w3.org/2000/svg">""");

    private static string End(StringBuilder svg) => svg.Append("</svg>").ToString();

    private static void YAxis(StringBuilder svg, string top)
    {
        svg.Append(CultureInfo.InvariantCulture, $"""<line class="axis" x1="{Left}" x2="{Left}" y1="{Top}" y2="{Height - Bottom}"/>""");
        svg.Append(CultureInfo.InvariantCulture, $"""<line class="axis" x1="{Left}" x2="{Width - Right}" y1="{Height - Bottom}" y2="{Height - Bottom}"/>""");
        svg.Append(Text(Left - 6, Top + 8, top, "end"));
        svg.Append(Text(Left - 6, Height - Bottom, "0", "end"));
    }

    private static string Text(double x, double y, string text, string anchor, string? cssClass = null)
    {
        var attribute = cssClass is null ? "" : " class=\"" + cssClass + "\"";
        return string.Create(CultureInfo.InvariantCulture, $"""<text{attribute} x="{N(x)}" y="{N(y)}" text-anchor="{anchor}">{Html.Encode(text)}</text>""");
    }

    private static string Shorten(string text, int max) => max >= 4 && text.Length > max ? text[..(max - 1)] + "…" : text;

    private static string N(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    /// <summary>A figure as the viewer prints it: at most four significant decimals.</summary>
    public static string Fmt(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
