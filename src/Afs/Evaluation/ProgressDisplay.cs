using System.Globalization;
using Affinetes.Afs.Cli;
using Affinetes.ValidatorClient.Evaluation;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Affinetes.Afs.Evaluation;

/// <summary>
/// The live view of a run while it works: on a terminal a Spectre.Console progress bar with done / failed / in
/// flight, rate and ETA, redrawn in place; otherwise (a pipe, a file, <c>--json</c>) the same figures as a plain line
/// on stderr every <c>interval</c>, and once at the end.
/// </summary>
internal static class ProgressDisplay
{
    private static readonly TimeSpan Redraw = TimeSpan.FromMilliseconds(200);

    /// <summary>Runs <paramref name="work"/> while showing <paramref name="progress"/>; returns or throws as the work does.</summary>
    public static async Task RunAsync(AfsConsole console, Func<EvaluationProgress> progress, TimeSpan interval, Func<Task> work)
    {
        if (console.IsInteractive && !console.Json)
        {
            await console.Ansi().Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(Bar(), new PercentageColumn(), new TaskDescriptionColumn { Alignment = Justify.Left })
                .StartAsync(async context =>
                {
                    var snapshot = progress();
                    var bar = context.AddTask(Markup.Escape(Describe(snapshot)), maxValue: Math.Max(1, snapshot.Total));
                    var working = work();
                    while (true)
                    {
                        var finished = await Task.WhenAny(working, Task.Delay(Redraw)) == working;
                        snapshot = progress();
                        bar.Value = snapshot.Done;
                        bar.Description = Markup.Escape(Describe(snapshot));
                        if (finished)
                        {
                            context.Refresh();
                            await working;
                            return;
                        }
                    }
                });
            return;
        }
        var running = work();
        while (await Task.WhenAny(running, Task.Delay(interval)) != running)
        {
            console.Progress($"afs eval: {Describe(progress())}");
        }
        console.Progress($"afs eval: {Describe(progress())}");
        await running;
    }

    /// <summary>
    /// Spectre's bar tells done from to-do by colour alone: with <c>NO_COLOR</c> (no-color.org) it would be one grey
    /// line, so the bar is drawn in characters instead (<c>█</c> done, <c>░</c> to do).
    /// </summary>
    private static ProgressColumn Bar() => string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"))
        ? new ProgressBarColumn { Width = 30 }
        : new CharacterBarColumn(30);

    /// <summary>A progress bar whose done and to-do parts are different characters, readable without colour.</summary>
    internal sealed class CharacterBarColumn(int width) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) => new Text(Draw(task.Percentage, width));

        public static string Draw(double percentage, int width)
        {
            var done = (int)Math.Round(Math.Clamp(percentage, 0, 100) / 100 * width);
            return new string('█', done) + new string('░', width - done);
        }
    }

    /// <summary><c>40/100 done, 2 failed, 20 in flight, 12.3 tasks/s, ETA 5 s</c>.</summary>
    public static string Describe(EvaluationProgress p)
    {
        var eta = p.Done >= p.Total ? "done" : p.Eta is { } e ? $"ETA {Duration(e)}" : "ETA -";
        var cached = p.FromCache + p.AlreadyDone > 0 ? $" ({p.FromCache + p.AlreadyDone} stored before)" : "";
        return $"{p.Done}/{p.Total} done{cached}, {p.Failed} failed, {p.InFlight} in flight, {p.Rate.ToString("0.0", CultureInfo.InvariantCulture)} tasks/s, {eta}";
    }

    private static string Duration(TimeSpan t) => t.TotalSeconds < 60
        ? $"{Math.Ceiling(t.TotalSeconds).ToString(CultureInfo.InvariantCulture)} s"
        : t.TotalHours < 1 ? $"{(int)t.TotalMinutes} min {t.Seconds} s" : $"{(int)t.TotalHours} h {t.Minutes} min";
}
