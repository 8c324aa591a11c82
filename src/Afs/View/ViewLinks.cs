using System.Globalization;

namespace Affinetes.Afs.View;

/// <summary>
/// Where the pages link to: the server's paths (<c>/runs/ID</c>, live updates, sorting, comparison), or the files of
/// a static export, relative to the page that links (<c>../runs/ID.html</c>), so that the export opens from disk.
/// </summary>
internal abstract class ViewLinks
{
    /// <summary>Served by <c>afs view</c>: sorting, filters, comparison and live updates work.</summary>
    public abstract bool Served { get; }

    public abstract string Home { get; }

    public abstract string Style { get; }

    /// <summary>The pages' script (live updates); null where there is none (an export).</summary>
    public abstract string? Script { get; }

    public abstract string Run(string runId);

    /// <summary>Page <paramref name="page"/> of a run's task table in task order (what an export has).</summary>
    public abstract string RunTablePage(string runId, int page);

    public abstract string Task(string runId, long taskId);

    public abstract string Csv(string runId);

    public abstract string Json(string runId);

    /// <summary>Runs side by side, <paramref name="a"/> and <paramref name="b"/> compared task by task.</summary>
    public abstract string Compare(IReadOnlyList<string> runIds, string? a = null, string? b = null);

    /// <summary>The server's paths.</summary>
    public sealed class Server(string styleUrl, string scriptUrl) : ViewLinks
    {
        public override bool Served => true;
        public override string Home => "/";
        public override string Style => styleUrl;
        public override string? Script => scriptUrl;
        public override string Run(string runId) => "/runs/" + Html.Url(runId);
        public override string RunTablePage(string runId, int page) => Run(runId) + (page > 1 ? "?page=" + page.ToString(CultureInfo.InvariantCulture) : "") + "#tasks";
        public override string Task(string runId, long taskId) => string.Create(CultureInfo.InvariantCulture, $"/runs/{Html.Url(runId)}/tasks/{taskId}");
        public override string Csv(string runId) => $"/runs/{Html.Url(runId)}.csv";
        public override string Json(string runId) => $"/runs/{Html.Url(runId)}.json";
        public override string Compare(IReadOnlyList<string> runIds, string? a = null, string? b = null) =>
            "/compare?" + string.Join("&", runIds.Select(id => "run=" + Html.Url(id))
                .Concat(a is null ? [] : ["a=" + Html.Url(a)]).Concat(b is null ? [] : ["b=" + Html.Url(b)]));
    }

    /// <summary>The files of an export, from a page <paramref name="depth"/> folders below the export's root.</summary>
    public sealed class Export(int depth) : ViewLinks
    {
        private readonly string _root = string.Concat(Enumerable.Repeat("../", depth));

        public override bool Served => false;
        public override string Home => _root + "index.html";
        public override string Style => _root + "assets/view.css";
        public override string? Script => null;
        public override string Run(string runId) => $"{_root}runs/{FileName(runId)}.html";
        public override string RunTablePage(string runId, int page) => page <= 1
            ? Run(runId) + "#tasks"
            : string.Create(CultureInfo.InvariantCulture, $"{_root}runs/{FileName(runId)}/page-{page}.html#tasks");
        public override string Task(string runId, long taskId) => string.Create(CultureInfo.InvariantCulture, $"{_root}runs/{FileName(runId)}/tasks/{taskId}.html");
        public override string Csv(string runId) => $"{_root}runs/{FileName(runId)}.csv";
        public override string Json(string runId) => $"{_root}runs/{FileName(runId)}.json";
        public override string Compare(IReadOnlyList<string> runIds, string? a = null, string? b = null) => _root + "compare.html";

        /// <summary>A run id as a file name: as it is when it is letters, digits, '.', '_' and '-' (every id afs makes), else escaped.</summary>
        public static string FileName(string runId) =>
            runId.Length > 0 && runId[0] != '.' && runId.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')
                ? runId
                : "run-" + Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(runId));
    }
}
