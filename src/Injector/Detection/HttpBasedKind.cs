using Affinetes.Injector.Dockerfiles;
using Affinetes.Protocol;

namespace Affinetes.Injector.Detection;

/// <summary>
/// The original's <c>http_based</c> environments: <c>env.py</c> defines a FastAPI <c>app</c> and the Dockerfile's
/// own <c>CMD</c> starts its server (detected as the original does: the text <c>FastAPI</c> and <c>app =</c> or
/// <c>app=</c> in env.py). The image keeps that command; the host runs it as its sidecar on a port of its own (given
/// as <c>$AFFINETES_PORT</c> and <c>$PORT</c>, which such CMDs read) and fronts it on port 8000.
/// </summary>
public sealed class HttpBasedKind : IEnvironmentKind
{
    /// <summary>What an image's CMD must not be for an http_based environment: a bare interpreter or shell starts no server.</summary>
    private static readonly HashSet<string> NotAServer = ["python", "python3", "/usr/bin/python3", "/usr/local/bin/python3", "bash", "sh", "/bin/sh", "/bin/bash"];

    public string Name => "http_based";

    public string Label => EnvironmentKinds.HttpBased;

    public string Requirements => "env.py defining a FastAPI app (app = FastAPI(...)) and a Dockerfile whose CMD starts its server";

    /// <summary>The original's rule: env.py mentions <c>FastAPI</c> and assigns <c>app</c>.</summary>
    public static bool DefinesApp(string directory)
    {
        var path = Path.Combine(directory, "env.py");
        if (!File.Exists(path))
        {
            return false;
        }
        var code = File.ReadAllText(path);
        return code.Contains("FastAPI", StringComparison.Ordinal) && (code.Contains("app = ", StringComparison.Ordinal) || code.Contains("app=", StringComparison.Ordinal));
    }

    public bool Claims(string directory) => DefinesApp(directory);

    public IReadOnlyList<string> Problems(string directory) => File.Exists(Path.Combine(directory, "Dockerfile"))
        ? []
        : ["Dockerfile is missing: an http_based environment's Dockerfile installs its server and starts it with CMD, e.g. CMD python3 -m uvicorn env:app --host 127.0.0.1 --port ${AFFINETES_PORT:-8000} --app-dir /app"];

    public string HostLayerDockerfile(HostLayerInputs inputs)
    {
        var command = inputs.BaseCommand;
        if (command.Count == 0 || (command.Count == 1 && NotAServer.Contains(command[0])))
        {
            throw new DetectionException($"the http_based environment's image would run {(command.Count == 0 ? "nothing" : $"'{command[0]}'")}: end its Dockerfile " +
                "with a CMD that starts the server on $AFFINETES_PORT, e.g. CMD python3 -m uvicorn env:app --host 127.0.0.1 --port ${AFFINETES_PORT:-8000} --app-dir /app");
        }
        return HostLayer.Dockerfile(inputs, SidecarKind.Spec(new SidecarDeclaration(command, Port: null, Methods: [])));
    }

    public IReadOnlyDictionary<string, string> StarterFiles(string name) => new Dictionary<string, string>();
}
