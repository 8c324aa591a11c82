using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Globalization;
using Affinetes.ValidatorClient.Environments;
using OpenAI;
using OpenAI.Chat;

namespace Affinetes.ValidatorClient.Evaluation;

/// <summary>
/// The model that plays episodes: one chat-completions request per step through the official OpenAI SDK, the whole
/// conversation each time (the system prompt, then observations and the model's own replies alternating). Its reply
/// is the action; an empty reply, or one over <see cref="EpisodeSettings.MaxActionChars"/>, is an error of the model.
/// </summary>
internal sealed class EpisodePolicy
{
    /// <summary>Retries of one request on 429, 5xx and network errors (the SDK's back-off), as <c>Llm.Chat</c> gives actors.</summary>
    private const int Retries = 2;

    private readonly ChatClient _client;
    private readonly ChatCompletionOptions _options;
    private readonly EpisodeSettings _settings;
    private readonly string _system;

    public EpisodePolicy(EpisodeSettings settings)
    {
        _settings = settings;
        _system = settings.SystemPrompt ?? EpisodeSettings.DefaultSystemPrompt;
        var key = settings.ResolveApiKey() ?? throw new EvaluationOptionsException(settings.Problem() ?? "no API key for the model");
        _client = new ChatClient(settings.Model, new ApiKeyCredential(key), new OpenAIClientOptions
        {
            Endpoint = new Uri(settings.BaseUrl.TrimEnd('/')),
            RetryPolicy = new ClientRetryPolicy(Retries),
            // The episode's deadline bounds every request (its token); this only keeps one from waiting without end.
            NetworkTimeout = TimeSpan.FromMinutes(10),
        });
        _options = new ChatCompletionOptions();
        if (settings.Temperature is { } temperature)
        {
            _options.Temperature = (float)temperature;
        }
    }

    /// <summary>A new conversation: the system prompt and the first observation.</summary>
    public List<ChatMessage> Start(string observation) => [new SystemChatMessage(_system), new UserChatMessage(observation)];

    /// <summary>The next observation, as the next user turn.</summary>
    public static void Observe(List<ChatMessage> conversation, string observation) => conversation.Add(new UserChatMessage(observation));

    /// <summary>Asks the model for its next action; its reply joins the conversation.</summary>
    public async Task<PolicyReply> ActAsync(List<ChatMessage> conversation, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        ChatCompletion completion;
        try
        {
            completion = (await _client.CompleteChatAsync(conversation, _options, cancellationToken)).Value;
        }
        catch (ClientResultException e)
        {
            throw new ModelReplyException(
                $"the model {_settings.Model} at {_settings.BaseUrl} {(e.Status == 0 ? "could not be reached" : $"answered {e.Status}")}: {FirstLine(e.Message)}",
                retryable: e.Status is 0 or 408 or 429 or >= 500, Stopwatch.GetElapsedTime(started).TotalMilliseconds, e);
        }
        catch (HttpRequestException e)
        {
            throw new ModelReplyException($"the model {_settings.Model} at {_settings.BaseUrl} could not be reached: {e.Message}",
                retryable: true, Stopwatch.GetElapsedTime(started).TotalMilliseconds, e);
        }
        var latency = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var text = Text(completion.Content);
        var reply = new PolicyReply(text, latency, completion.Usage?.InputTokenCount ?? 0, completion.Usage?.OutputTokenCount ?? 0);
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ModelReplyException(
                $"the model {_settings.Model} answered nothing (empty content, finish reason {completion.FinishReason.ToString().ToLowerInvariant()}): no action to send",
                retryable: false, latency, inner: null, reply);
        }
        if (text.Length > _settings.MaxActionChars)
        {
            throw new ModelReplyException(
                $"the model {_settings.Model} replied {text.Length.ToString("N0", CultureInfo.InvariantCulture)} characters, over the action limit of " +
                $"{_settings.MaxActionChars.ToString("N0", CultureInfo.InvariantCulture)} (EpisodeSettings.MaxActionChars); it was not sent to the environment",
                retryable: false, latency, inner: null, reply);
        }
        conversation.Add(new AssistantChatMessage(text));
        return reply;
    }

    /// <summary>The reply's text parts joined (one part, the usual case, without a copy).</summary>
    private static string Text(ChatMessageContent content)
    {
        if (content.Count == 1 && content[0].Kind == ChatMessageContentPartKind.Text)
        {
            return content[0].Text;
        }
        var text = new System.Text.StringBuilder();
        foreach (var part in content)
        {
            if (part.Kind == ChatMessageContentPartKind.Text)
            {
                text.Append(part.Text);
            }
        }
        return text.ToString();
    }

        private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}

/// <summary>One reply of the model: the action, how long it took, the tokens it used (as the endpoint reported them; 0 when it did not).</summary>
internal sealed record PolicyReply(string Text, double LatencyMs, int PromptTokens, int CompletionTokens);

/// <summary>The model playing an episode failed; <see cref="Reply"/> is what it answered when it answered something unusable.</summary>
internal sealed class ModelReplyException(string message, bool retryable, double latencyMs, Exception? inner = null, PolicyReply? reply = null)
    : AffinetesException(message, inner)
{
    public override bool IsRetryable => retryable;

    public double LatencyMs => latencyMs;

    public PolicyReply? Reply => reply;
}
