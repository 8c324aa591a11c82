using System.CommandLine;
using Affinetes.Afs.Cli;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Evaluation;

namespace Affinetes.Afs.Evaluation;

/// <summary>
/// The options of a run shared by <c>afs eval</c> and <c>afs score</c> (<c>--tasks</c>, <c>--method</c>,
/// <c>--concurrency</c>, <c>--timeout</c>, <c>--retries</c>, <c>--no-cache</c>), and the runner's request made from them.
/// </summary>
internal sealed class RunSettings(string tasksDescription, string concurrencyDescription)
{
    public Option<IReadOnlyList<long>?> Tasks { get; } = TaskIds.Option(tasksDescription);
    public Option<string> Method { get; } = new("--method") { Description = "the method called for each task", DefaultValueFactory = _ => "evaluate" };
    public Option<int> Concurrency { get; } = new("--concurrency", "-c") { Description = concurrencyDescription, DefaultValueFactory = _ => 20 };
    public Option<TimeSpan?> Timeout { get; } = Seconds.Deadline("--timeout",
        "seconds each task may take (past it the task fails as 'deadline' and the environment cancels it); default: the method's " +
        $"timeout argument + {TimeoutKwarg.GraceSeconds:0} s when it has one, else {CallDeadlines.EvaluationDefault.TotalSeconds:0} s; none: no deadline");
    public Option<int> Retries { get; } = new("--retries") { Description = "further attempts of a task that failed transiently (deadline, unavailable); an actor's error is never retried", DefaultValueFactory = _ => 0 };
    public Option<bool> NoCache { get; } = new("--no-cache") { Description = "run every task, even those with a stored result for the same image, method and kwargs" };

    public void AddTo(Command command)
    {
        command.Options.Add(Tasks);
        command.Options.Add(Method);
        command.Options.Add(Concurrency);
        command.Options.Add(Timeout);
        command.Options.Add(Retries);
        command.Options.Add(NoCache);
    }

    /// <summary>
    /// Checks the options the runner would refuse (concurrency, timeout, retries, method) before anything is built
    /// or started, so that a typo costs no image build; the runner checks the whole request again.
    /// </summary>
    public void Check(CommandContext context)
    {
        var tasks = context.Get(Tasks);
        var request = Request(context, new Dictionary<string, object?>(), null) with { TaskIds = tasks ?? [0] };
        request.Validate();
    }

    /// <summary>The options that shape a run; a resume runs the stored run as it was stored and takes none of them.</summary>
    public IEnumerable<Option> RunShaping => [Tasks, Method, Concurrency, Timeout, Retries, NoCache];

    /// <summary>
    /// The runner's request for these options; the runner validates it (concurrency, retries) and says how to fix it.
    /// Without <c>--timeout</c> the deadline is left to the library: the method's <c>timeout</c> + 10 s, else 600 s.
    /// </summary>
    public EvaluationRequest Request(CommandContext context, IReadOnlyDictionary<string, object?> kwargs, string? environment, string? label = null) => new()
    {
        Method = context.Get(Method)!,
        TaskIds = context.Get(Tasks)!,
        Kwargs = kwargs,
        Concurrency = context.Get(Concurrency),
        TaskTimeout = context.Get(Timeout),
        Retries = context.Get(Retries),
        UseCache = !context.Get(NoCache),
        Environment = environment,
        Label = label,
    };
}
