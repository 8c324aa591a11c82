namespace Affinetes.ValidatorClient.Jobs;

/// <summary>
/// Where an evaluated environment's model calls go: an OpenAI-compatible endpoint, the model asked for, and the
/// variable of this process that holds its key (the key itself is never stored or logged).
/// </summary>
public sealed record ModelEndpoint
{
    /// <summary>The variable environments read their LLM key from (the original's convention).</summary>
    public const string DefaultApiKeyVariable = "CHUTES_API_KEY";

    /// <summary>The API root, e.g. <c>https://llm.chutes.ai/v1</c>.</summary>
    public required string BaseUrl { get; init; }

    /// <summary>The model name passed to the environment (its <c>model</c> argument).</summary>
    public string? Model { get; init; }

    /// <summary>The variable of this process holding the endpoint's key; passed to containers under the same name when no gateway stands between.</summary>
    public string? ApiKeyVariable { get; init; } = DefaultApiKeyVariable;

    /// <summary>
    /// A model this process serves on its own 127.0.0.1 (the offline baseline): containers reach it through the host's
    /// network or the LLM gateway, it takes any key, and <c>base_url</c>/<c>model</c> are passed only to methods that
    /// declare them.
    /// </summary>
    public bool LocalOnly { get; init; }

    /// <summary>The key containers get for a <see cref="LocalOnly"/> model (it takes any).</summary>
    public string? PlaceholderKey { get; init; }

    /// <summary>How runs against it are labelled; default <c>model: NAME at URL</c>.</summary>
    public string? Label { get; init; }
}

/// <summary>A model this process can serve itself for a job (the offline baseline), on 127.0.0.1.</summary>
public interface ILocalModelServer
{
    /// <summary>
    /// Starts serving on <paramref name="port"/>; when it is taken and <paramref name="anyPortIfTaken"/>, on a free
    /// port instead (<paramref name="notes"/> then says what that costs: runs on another port do not share the cache).
    /// </summary>
    Task<ILocalModel> StartAsync(int port, bool anyPortIfTaken, IProgress<string>? notes, CancellationToken cancellationToken);
}

/// <summary>A running local model; disposing stops it.</summary>
public interface ILocalModel : IAsyncDisposable
{
    /// <summary>Where it answers, as a job uses it.</summary>
    ModelEndpoint Endpoint { get; }
}

/// <summary>
/// A keyword argument typed on a command line: a <c>str</c> parameter gets <see cref="Text"/> as typed, any other
/// parameter (or a method without a descriptor) its JSON value when the text is JSON, else the text.
/// </summary>
public sealed record CommandLineValue(string Text)
{
    /// <summary>The value for a parameter of JSON type <paramref name="type"/> (<c>string</c>, <c>integer</c> ...; null: unknown).</summary>
    public object For(string? type)
    {
        if (type == "string")
        {
            return Text;
        }
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(Text);
            return document.RootElement.Clone();
        }
        catch (System.Text.Json.JsonException)
        {
            return Text;
        }
    }
}
