using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>
/// Episode mode of an evaluation (<see cref="EvaluationRequest.Episodes"/>): each task is one episode of an
/// interactive (OpenEnv) environment, played by a model. <c>reset(task_id, seed)</c> opens it (seed = the task id
/// unless the request's kwargs give <c>seed</c>; the other kwargs go to <c>reset</c> too); then each observation is
/// the next user turn of one conversation with the model (after <see cref="SystemPrompt"/>), the model's reply is the
/// action of the next <c>step</c>, until the environment says <c>done</c> (or <c>truncated</c>),
/// <see cref="MaxSteps"/> steps were played, or the task's deadline (<see cref="EvaluationRequest.TaskTimeout"/>,
/// which bounds the whole episode) passes; then the episode is stopped. The model is called through its
/// OpenAI-compatible chat-completions endpoint with the official OpenAI SDK.
/// </summary>
/// <remarks>
/// Every setting but the key is stored with the run (as the kwarg <c>_episode</c>), so a resume plays as the run
/// started and the cache never serves a result played with other settings.
/// </remarks>
public sealed record EpisodeSettings
{
    /// <summary>The method a run in episode mode is stored under.</summary>
    public const string MethodName = "episode";

    /// <summary>The kwarg that carries the settings in the store (never sent to the environment).</summary>
    public const string StoredKwarg = "_episode";

    /// <summary>What the model is told before the first observation when <see cref="SystemPrompt"/> is not set.</summary>
    public const string DefaultSystemPrompt =
        "You are playing an interactive environment, one turn at a time. Each user message is the environment's " +
        "observation; reply with your next action only, in the form the observation asks for, without explanation.";

    /// <summary>Steps at most per episode (30); an episode still open then ends with stop reason <c>max_steps</c>.</summary>
    public int MaxSteps { get; init; } = 30;

    /// <summary>The model's OpenAI-compatible API root, up to and including <c>/v1</c> (e.g. <c>https://llm.chutes.ai/v1</c>).</summary>
    public required string BaseUrl { get; init; }

    /// <summary>The model name sent with every request.</summary>
    public required string Model { get; init; }

    /// <summary>The model endpoint's API key; never stored. Null: the value of <see cref="ApiKeyVariable"/>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The environment variable the key is read from when <see cref="ApiKey"/> is not given (at start and at a resume).</summary>
    public string ApiKeyVariable { get; init; } = "CHUTES_API_KEY";

    /// <summary>The system message before the first observation; null: <see cref="DefaultSystemPrompt"/>.</summary>
    public string? SystemPrompt { get; init; }

    /// <summary>The sampling temperature sent to the model; null: the endpoint's default.</summary>
    public double? Temperature { get; init; }

    /// <summary>
    /// The longest reply of the model taken as an action, in characters (32,768). A longer one is not sent: the episode
    /// fails with <c>model_error</c> saying how long it was (a model rambling for a megabyte is not a move).
    /// </summary>
    public int MaxActionChars { get; init; } = 32_768;

    /// <summary>The key to use: <see cref="ApiKey"/>, else the value of <see cref="ApiKeyVariable"/>; null when neither is set.</summary>
    public string? ResolveApiKey() =>
        !string.IsNullOrWhiteSpace(ApiKey) ? ApiKey.Trim()
        : System.Environment.GetEnvironmentVariable(ApiKeyVariable)?.Trim() is { Length: > 0 } fromEnvironment ? fromEnvironment
        : null;

    /// <summary>The first problem with these settings, said so that it can be fixed; null when there is none.</summary>
    internal string? Problem()
    {
        if (MaxSteps is < 1 or > 100_000)
        {
            return $"episode max steps is {MaxSteps}; use 1 to 100000";
        }
        if (!Uri.TryCreate(BaseUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            return $"the model's base URL '{BaseUrl}' is not an http(s) URL; give its API root, e.g. https://llm.chutes.ai/v1";
        }
        if (string.IsNullOrWhiteSpace(Model))
        {
            return "the model name is empty; name the model to play the episodes, e.g. deepseek-ai/DeepSeek-V3";
        }
        if (string.IsNullOrWhiteSpace(ApiKeyVariable))
        {
            return "the API key variable is empty; name the environment variable holding the model's key, e.g. CHUTES_API_KEY";
        }
        if (Temperature is { } t && (double.IsNaN(t) || t < 0 || t > 2))
        {
            return $"the temperature is {t.ToString(CultureInfo.InvariantCulture)}; use 0 to 2, or leave it unset for the endpoint's default";
        }
        if (MaxActionChars is < 1 or > 16 * 1024 * 1024)
        {
            return $"the action limit is {MaxActionChars} characters; use 1 to 16777216";
        }
        return ResolveApiKey() is null
            ? $"no API key for the model: set EpisodeSettings.ApiKey or ${ApiKeyVariable} (any non-empty value does for a local endpoint that takes none)"
            : null;
    }

    /// <summary>The settings as stored with the run (the key left out; the system prompt as sent).</summary>
    internal JsonElement ToStored() => JsonSerializer.SerializeToElement(new Dictionary<string, object?>
    {
        ["max_steps"] = MaxSteps,
        ["base_url"] = BaseUrl,
        ["model"] = Model,
        ["api_key_variable"] = ApiKeyVariable,
        ["system_prompt"] = SystemPrompt ?? DefaultSystemPrompt,
        ["temperature"] = Temperature,
        ["max_action_chars"] = MaxActionChars,
    });

    /// <summary>Settings as <see cref="ToStored"/> wrote them.</summary>
    internal static EpisodeSettings FromStored(JsonElement stored) => new()
    {
        MaxSteps = stored.GetProperty("max_steps").GetInt32(),
        BaseUrl = stored.GetProperty("base_url").GetString()!,
        Model = stored.GetProperty("model").GetString()!,
        ApiKeyVariable = stored.GetProperty("api_key_variable").GetString()!,
        SystemPrompt = stored.GetProperty("system_prompt").GetString(),
        Temperature = stored.GetProperty("temperature") is { ValueKind: JsonValueKind.Number } t ? t.GetDouble() : null,
        MaxActionChars = stored.GetProperty("max_action_chars").GetInt32(),
    };

    /// <summary>Every setting but the key, which shows as <c>***</c> when set.</summary>
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("MaxSteps = ").Append(MaxSteps).Append(", BaseUrl = ").Append(BaseUrl).Append(", Model = ").Append(Model)
            .Append(", ApiKey = ").Append(ApiKey is null ? "" : "***").Append(", ApiKeyVariable = ").Append(ApiKeyVariable)
            .Append(", SystemPrompt = ").Append(SystemPrompt).Append(", Temperature = ").Append(Temperature)
            .Append(", MaxActionChars = ").Append(MaxActionChars);
        return true;
    }

    /// <summary>A <c>seed</c> kwarg as an integer; null when it is not one.</summary>
    internal static long? Seed(object? value) => value switch
    {
        JsonElement { ValueKind: JsonValueKind.Number } n when n.TryGetInt64(out var seed) => seed,
        int i => i,
        long l => l,
        short s => s,
        _ => null,
    };
}
