using System.Text.Json;
using Affinetes.Injector.Dockerfiles;
using Affinetes.Protocol;

namespace Affinetes.Injector.Detection;

/// <summary>
/// An environment that brings its own HTTP server, declared in <c>sidecar.json</c>:
/// <code>{"command": ["python3", "/app/server.py"], "port": 9000, "methods": ["evaluate"]}</code>
/// <c>command</c> (a JSON array, or a line for <c>/bin/sh -c</c>) is required; <c>port</c> is optional (default: a free
/// port, given to the server as <c>PORT</c>); <c>methods</c> is only needed when the server has no
/// <c>/openapi.json</c>. The host starts, supervises and fronts the server.
/// </summary>
public sealed class SidecarKind : IEnvironmentKind
{
    public const string DeclarationFile = "sidecar.json";

    public string Name => RuntimeNames.Sidecar;

    public string Label => EnvironmentKinds.HttpBased;

    public string Requirements => "sidecar.json ({\"command\": [...]}) and a Dockerfile that installs the server";

    public bool Claims(string directory) => File.Exists(Path.Combine(directory, DeclarationFile));

    public IReadOnlyList<string> Problems(string directory)
    {
        var problems = new List<string>();
        if (!File.Exists(Path.Combine(directory, "Dockerfile")))
        {
            problems.Add("Dockerfile is missing: write one that installs the server, e.g. 'FROM python:3.11-slim', 'COPY server.py /app/server.py'");
        }
        try
        {
            Read(directory);
        }
        catch (DetectionException e)
        {
            problems.Add(e.Message);
        }
        return problems;
    }

    /// <summary>The host layer: the declaration becomes the host's sidecar settings.</summary>
    public string HostLayerDockerfile(HostLayerInputs inputs) => HostLayer.Dockerfile(inputs, Spec(Read(inputs.SourceDirectory)));

    /// <summary>The host's settings for a sidecar declared as <paramref name="declaration"/>.</summary>
    public static HostLayerSpec Spec(SidecarDeclaration declaration)
    {
        var environment = new List<KeyValuePair<string, string>>
        {
            new(HostEnvironment.Runtime, RuntimeNames.Sidecar),
            new(HostEnvironment.SidecarCommand, JsonSerializer.Serialize(declaration.Command, DeclarationJson.Default.IReadOnlyListString)),
        };
        if (declaration.Port is { } port)
        {
            environment.Add(new(HostEnvironment.SidecarPort, port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        if (declaration.Methods.Count > 0)
        {
            environment.Add(new(HostEnvironment.SidecarMethods, string.Join(',', declaration.Methods)));
        }
        return new HostLayerSpec { EnvType = EnvironmentKinds.HttpBased, Runtime = RuntimeNames.Sidecar, Environment = environment };
    }

    /// <summary>Reads <c>sidecar.json</c>; <see cref="DetectionException"/> says what is wrong with it.</summary>
    public static SidecarDeclaration Read(string directory)
    {
        var path = Path.Combine(directory, DeclarationFile);
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new DetectionException($"{DeclarationFile} is not valid JSON: {e.Message}");
        }
        const string example = "e.g. {\"command\": [\"python3\", \"/app/server.py\"]}";
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("command", out var command))
        {
            throw new DetectionException($"{DeclarationFile} must be an object with the server's \"command\", {example}");
        }
        IReadOnlyList<string> parts = command.ValueKind switch
        {
            JsonValueKind.String when !string.IsNullOrWhiteSpace(command.GetString()) => ["/bin/sh", "-c", command.GetString()!],
            JsonValueKind.Array when command.GetArrayLength() > 0 && command.EnumerateArray().All(p => p.ValueKind == JsonValueKind.String && p.GetString()!.Length > 0)
                => [.. command.EnumerateArray().Select(p => p.GetString()!)],
            _ => throw new DetectionException($"{DeclarationFile}: \"command\" must be a non-empty array of strings (or a shell line), {example}"),
        };
        int? port = null;
        if (root.TryGetProperty("port", out var portValue) && portValue.ValueKind != JsonValueKind.Null)
        {
            port = portValue.ValueKind == JsonValueKind.Number && portValue.TryGetInt32(out var p) && p is > 0 and < 65536 && p != HostEnvironment.DefaultPort
                ? p
                : throw new DetectionException($"{DeclarationFile}: \"port\" must be a port number other than {HostEnvironment.DefaultPort} (the host's own), or left out to get a free one as $PORT");
        }
        var methods = new List<string>();
        if (root.TryGetProperty("methods", out var declared) && declared.ValueKind != JsonValueKind.Null)
        {
            if (declared.ValueKind != JsonValueKind.Array || declared.EnumerateArray().Any(m => m.ValueKind != JsonValueKind.String
                || string.IsNullOrWhiteSpace(m.GetString()) || m.GetString()!.Contains('/', StringComparison.Ordinal) || m.GetString()!.Contains(',', StringComparison.Ordinal)))
            {
                throw new DetectionException($"{DeclarationFile}: \"methods\" must be an array of method names, e.g. [\"evaluate\", \"generate\"]");
            }
            methods.AddRange(declared.EnumerateArray().Select(m => m.GetString()!));
        }
        return new SidecarDeclaration(parts, port, methods);
    }

    /// <summary>The starter is the example environment environments/sidecar-arith (built into this assembly), with a README.</summary>
    public IReadOnlyDictionary<string, string> StarterFiles(string name) => new Dictionary<string, string>
    {
        ["server.py"] = Example("server.py"),
        [DeclarationFile] = Example(DeclarationFile),
        ["Dockerfile"] = Example("Dockerfile"),
        ["README.md"] = StarterReadme.Replace("{{NAME}}", name, StringComparison.Ordinal),
    };

    private static string Example(string file)
    {
        using var stream = typeof(SidecarKind).Assembly.GetManifestResourceStream("starters/sidecar/" + file)
            ?? throw new InvalidOperationException($"the sidecar starter's {file} is not built into afs");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private const string StarterReadme = """
        # {{NAME}}

        An Affinetes environment that brings its own HTTP server (`server.py`, Python standard library). `sidecar.json`
        tells the ActorHost how to start it; the host listens on port 8000, gives the server its port in `$PORT`, and
        forwards each call to the server's `POST /<method>` with the keyword arguments as a JSON object. Methods are
        listed from the server's `/openapi.json` (FastAPI writes one; `server.py` writes its own), else from `"methods"`
        in `sidecar.json` (`{"command": [...], "methods": ["evaluate"]}`).

        ```bash
        afs build . --tag {{NAME}}:dev
        afs run {{NAME}}:dev --name {{NAME}}
        afs call {{NAME}} generate --arg task_id=1
        afs call {{NAME}} evaluate --arg task_id=1 --arg answer=1234   # scores a given answer, no model
        afs eval . --tasks 1-20                                     # asks the model (offline: afs's baseline)
        ```

        `evaluate(task_id, model, base_url, timeout=120, seed=0, answer=None)` asks `model` at `base_url` (an
        OpenAI-compatible chat-completions endpoint, the key from `$CHUTES_API_KEY` or `$OPENAI_API_KEY`) to solve the
        problem and scores its integer answer; failures of the model side are a result with `success: false` and an
        `error`, not an exception.

        """;
}

/// <summary>What <c>sidecar.json</c> declares.</summary>
public sealed record SidecarDeclaration(IReadOnlyList<string> Command, int? Port, IReadOnlyList<string> Methods);

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class DeclarationJson : System.Text.Json.Serialization.JsonSerializerContext;
