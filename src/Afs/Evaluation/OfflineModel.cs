using Affinetes.Baseline;
using Affinetes.ValidatorClient.Jobs;
using Microsoft.Extensions.Logging;

namespace Affinetes.Afs.Evaluation;

/// <summary>
/// The model side of an evaluation when no LLM endpoint is given: the baseline "model" (<see cref="BaselineModel"/>,
/// a keyword heuristic behind the OpenAI chat-completions API) served by afs on 127.0.0.1, as the library's local
/// model (<see cref="ILocalModelServer"/>). It listens on a fixed port by default so that the kwargs of runs (its
/// base URL among them) stay equal from one run to the next and the results cache matches.
/// </summary>
internal sealed class OfflineModel(ILoggerFactory loggerFactory) : ILocalModelServer
{
    /// <summary>The baseline's port unless told otherwise (<c>afs baseline serve</c> uses it too).</summary>
    public const int DefaultPort = EvaluationJob.DefaultLocalModelPort;

    /// <summary>The API key given to environments that talk to the baseline (it accepts any).</summary>
    public const string ApiKey = "affinetes-baseline-no-key";

    /// <summary>The environment variable environments read their LLM API key from (the original's convention).</summary>
    public const string ApiKeyVariable = ModelEndpoint.DefaultApiKeyVariable;

    /// <summary>What runs against the baseline say about it, in their label and in the summary.</summary>
    public static readonly string Label = $"model: {BaselineModel.Name} (offline baseline: a keyword heuristic, not a language model)";

    /// <summary>
    /// Starts the baseline on 127.0.0.1:<paramref name="port"/>; when that port is taken and
    /// <paramref name="anyPortIfTaken"/>, on a free port instead (then <paramref name="notes"/> says the cache will not
    /// match runs made on the usual port).
    /// </summary>
    public async Task<ILocalModel> StartAsync(int port, bool anyPortIfTaken, IProgress<string>? notes, CancellationToken cancellationToken)
    {
        BaselineServer server;
        try
        {
            server = await BaselineServer.StartAsync(new BaselineServerOptions { Port = port, LoggerFactory = loggerFactory }, cancellationToken);
        }
        catch (IOException) when (anyPortIfTaken)
        {
            server = await BaselineServer.StartAsync(new BaselineServerOptions { Port = 0, LoggerFactory = loggerFactory }, cancellationToken);
            notes?.Report($"port {port} is taken, so the baseline model listens on {server.BaseUrl.Port}; results of this run will not serve runs made on port {port} from the cache");
        }
        return new Running(server);
    }

    private sealed class Running(BaselineServer server) : ILocalModel
    {
        public ModelEndpoint Endpoint { get; } = new()
        {
            BaseUrl = server.BaseUrl.ToString(),
            Model = BaselineModel.Name,
            ApiKeyVariable = ApiKeyVariable,
            LocalOnly = true,
            PlaceholderKey = ApiKey,
            Label = Label,
        };

        public ValueTask DisposeAsync() => server.DisposeAsync();
    }
}
