using Affinetes.Testing;
using Affinetes.ValidatorClient.Jobs;

namespace Affinetes.ValidatorClient.Tests.Jobs;

/// <summary>
/// A local model for the job services' tests: the tests' OpenAI-compatible server (real HTTP on 127.0.0.1), started
/// on the port asked for, as afs's offline baseline is.
/// </summary>
internal sealed class LocalTestModel(Func<ChatRequest, LlmReply>? responder = null) : ILocalModelServer
{
    public const string Name = "local-test-model";

    public int Started { get; private set; }

    public List<int> PortsAsked { get; } = [];

    /// <summary>The ports the model listened on, in start order (the tests' server picks its own).</summary>
    public List<int> PortsListened { get; } = [];

    public async Task<ILocalModel> StartAsync(int port, bool anyPortIfTaken, IProgress<string>? notes, CancellationToken cancellationToken)
    {
        PortsAsked.Add(port);
        Started++;
        var server = await LocalLlmServer.StartAsync(responder);
        PortsListened.Add(server.BaseUrl.Port);
        return new Running(server);
    }

    private sealed class Running(LocalLlmServer server) : ILocalModel
    {
        public ModelEndpoint Endpoint { get; } = new()
        {
            BaseUrl = server.BaseUrl.ToString(),
            Model = Name,
            LocalOnly = true,
            PlaceholderKey = "local-key",
            Label = "model: the tests' local model",
        };

        public ValueTask DisposeAsync() => server.DisposeAsync();
    }
}
