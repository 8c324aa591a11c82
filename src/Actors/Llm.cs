using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using OpenAI;
using OpenAI.Chat;

namespace Affinetes.Actors;

/// <summary>
/// Ready OpenAI clients for a C# actor (the official OpenAI .NET SDK, shipped with the host). The API key comes from
/// the container's environment (<c>CHUTES_API_KEY</c>, else <c>OPENAI_API_KEY</c>), the base URL from the call (else
/// <c>OPENAI_BASE_URL</c>, else OpenAI's own), so an actor needs no configuration code:
/// <code>var reply = await Llm.Chat(model, baseUrl, TimeSpan.FromSeconds(timeout)).CompleteChatAsync(messages, cancellationToken: ct);</code>
/// </summary>
public static class Llm
{
    /// <summary>Environment variables read for the API key, in order.</summary>
    public static readonly IReadOnlyList<string> ApiKeyVariables = ["CHUTES_API_KEY", "OPENAI_API_KEY"];

    /// <summary>Environment variable read for the base URL when a call gives none.</summary>
    public const string BaseUrlVariable = "OPENAI_BASE_URL";

    private static readonly ConcurrentDictionary<(string Model, string? BaseUrl, string Key, TimeSpan? Timeout, int Retries), ChatClient> Clients = new();

    /// <summary>The API key from the environment (<c>CHUTES_API_KEY</c>, else <c>OPENAI_API_KEY</c>), or null when neither is set.</summary>
    public static string? ApiKey => ApiKeyVariables
        .Select(name => Environment.GetEnvironmentVariable(name)?.Trim())
        .FirstOrDefault(value => !string.IsNullOrEmpty(value));

    /// <summary>
    /// A chat client for <paramref name="model"/> at <paramref name="baseUrl"/> (an OpenAI-compatible API root up to and
    /// including <c>/v1</c>). Clients are cached per settings and share pooled connections.
    /// </summary>
    /// <param name="model">Model name sent with every request.</param>
    /// <param name="baseUrl">API root; null: <c>$OPENAI_BASE_URL</c>, else OpenAI's.</param>
    /// <param name="timeout">Network timeout of one request; null: the SDK's default (100 s).</param>
    /// <param name="apiKey">Overrides the key from the environment.</param>
    /// <param name="maxRetries">Retries on 429, 5xx and network errors, with the SDK's back-off (0: none).</param>
    /// <exception cref="InvalidOperationException">No API key is given or set in the environment.</exception>
    public static ChatClient Chat(string model, string? baseUrl = null, TimeSpan? timeout = null, string? apiKey = null, int maxRetries = 2)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetries);
        var key = string.IsNullOrWhiteSpace(apiKey) ? ApiKey : apiKey.Trim();
        if (key is null)
        {
            throw new InvalidOperationException($"no API key for the LLM: set {string.Join(" or ", ApiKeyVariables)} in the environment, or pass apiKey");
        }
        var root = string.IsNullOrWhiteSpace(baseUrl) ? Environment.GetEnvironmentVariable(BaseUrlVariable) : baseUrl;
        root = string.IsNullOrWhiteSpace(root) ? null : root.Trim().TrimEnd('/');
        return Clients.GetOrAdd((model, root, key, timeout, maxRetries), static settings =>
        {
            var options = new OpenAIClientOptions { RetryPolicy = new ClientRetryPolicy(settings.Retries) };
            if (settings.BaseUrl is not null)
            {
                options.Endpoint = Uri.TryCreate(settings.BaseUrl, UriKind.Absolute, out var endpoint)
                    ? endpoint
                    : throw new ArgumentException($"base URL '{settings.BaseUrl}' is not an absolute URL; give e.g. https://llm.chutes.ai/v1", nameof(baseUrl));
            }
            if (settings.Timeout is { } limit)
            {
                options.NetworkTimeout = limit;
            }
            return new ChatClient(settings.Model, new ApiKeyCredential(settings.Key), options);
        });
    }
}
