using System.Text.Json.Serialization;

namespace Affinetes.Protocol;

/// <summary>Headers the LLM gateway reads on an environment's requests.</summary>
public static class GatewayHeaders
{
    /// <summary>
    /// The evaluation task a request belongs to; the gateway accounts usage per task when present. The path form
    /// <see cref="GatewayRoutes.TaskBaseUrl"/> does the same for code that can only be given a base URL.
    /// </summary>
    public const string Task = "X-Affinetes-Task";
}

/// <summary>Paths of the LLM gateway: the OpenAI-compatible API on its proxy listeners, the admin API on its admin listener.</summary>
public static class GatewayRoutes
{
    /// <summary>The OpenAI-compatible API's prefix; an environment's base URL is <c>http://HOST:PORT/v1</c>.</summary>
    public const string Api = "/v1";

    /// <summary>Prefix of the per-task form of the API: <c>/tasks/{task}/v1/...</c>.</summary>
    public const string Tasks = "/tasks";

    /// <summary><c>GET</c>: 200 while the gateway serves (both listeners, no token).</summary>
    public const string Health = "/health";

    /// <summary>Admin: <c>POST</c> registers a <see cref="GatewayTenant"/> (answers <see cref="GatewayTenantCreated"/>), <c>GET</c> lists them.</summary>
    public const string Tenants = "/admin/tenants";

    /// <summary>Admin: <c>GET</c> the <see cref="GatewayUsage"/> of every tenant; <c>/admin/usage/{name}</c> one <see cref="TenantUsage"/>.</summary>
    public const string Usage = "/admin/usage";

    /// <summary>
    /// Admin: <c>POST /admin/usage/{name}/collect</c> with a <see cref="TaskCollection"/> answers the <see cref="CollectedTasks"/>:
    /// each named task's figures since it was last collected, which the gateway then forgets (what a client stores
    /// with each result; the gateway keeps only tasks not collected yet).
    /// </summary>
    public const string CollectSuffix = "/collect";

    /// <summary>Every admin path starts with this; they answer on the admin listener only.</summary>
    public const string AdminPrefix = "/admin";

    /// <summary>Longest task id the gateway accepts.</summary>
    public const int MaxTaskIdLength = 128;

    /// <summary>
    /// The base URL whose calls count for <paramref name="taskId"/>: <c>http://HOST:PORT/tasks/{task}/v1</c> from the
    /// environment's base URL <c>http://HOST:PORT/v1</c>. Task ids are letters, digits and <c>. _ - :</c>.
    /// </summary>
    public static string TaskBaseUrl(string environmentBaseUrl, string taskId)
    {
        if (!IsValidTaskId(taskId))
        {
            throw new ArgumentException($"task id '{taskId}' is not usable in a URL; use at most {MaxTaskIdLength} letters, digits, '.', '_', '-' or ':'", nameof(taskId));
        }
        var trimmed = environmentBaseUrl.TrimEnd('/');
        if (!trimmed.EndsWith(Api, StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{environmentBaseUrl}' is not a gateway base URL ending in {Api}", nameof(environmentBaseUrl));
        }
        return $"{trimmed[..^Api.Length]}{Tasks}/{taskId}{Api}";
    }

    /// <summary>Whether <paramref name="taskId"/> can name a task (in the header or the path).</summary>
    public static bool IsValidTaskId(string taskId) =>
        taskId.Length is > 0 and <= MaxTaskIdLength && taskId.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':');
}

/// <summary>Values of <c>error.code</c> in the gateway's OpenAI-style error bodies.</summary>
public static class GatewayErrorCodes
{
    /// <summary>401: no token, or one the gateway did not issue.</summary>
    public const string InvalidApiKey = "invalid_api_key";
    /// <summary>403: the model is not in the environment's allowed models.</summary>
    public const string ModelNotAllowed = "model_not_allowed";
    /// <summary>400: <c>max_tokens</c> (or <c>max_completion_tokens</c>) above the environment's limit.</summary>
    public const string MaxTokensExceeded = "max_tokens_exceeded";
    /// <summary>429: more requests per minute than the environment may make.</summary>
    public const string RateLimitExceeded = "rate_limit_exceeded";
    /// <summary>429: more requests in flight than the environment may have.</summary>
    public const string ConcurrencyLimitExceeded = "concurrency_limit_exceeded";
    /// <summary>429: the environment's token budget is spent (OpenAI's code for an exhausted quota).</summary>
    public const string BudgetExhausted = "insufficient_quota";
    /// <summary>400: the body is not a JSON object, or a field has the wrong type.</summary>
    public const string InvalidRequest = "invalid_request";
    /// <summary>400: the task id (header or path) is not usable.</summary>
    public const string InvalidTaskId = "invalid_task_id";
    /// <summary>404: a path or method the gateway does not forward.</summary>
    public const string UnknownUrl = "unknown_url";
    /// <summary>413: the body is over the gateway's limit.</summary>
    public const string PayloadTooLarge = "payload_too_large";
    /// <summary>502: the upstream could not be reached or broke off.</summary>
    public const string UpstreamUnavailable = "upstream_unavailable";
    /// <summary>504: the upstream sent nothing for longer than the gateway's upstream timeout.</summary>
    public const string UpstreamTimeout = "upstream_timeout";
}

/// <summary>
/// A tenant of the gateway: one environment's access to the LLM: the token it presents and its limits. Registered through
/// <see cref="GatewayRoutes.Tenants"/> or the gateway's config file. Null limits mean none.
/// </summary>
public sealed record GatewayTenant
{
    /// <summary>Unique name, used in usage figures and admin paths (letters, digits, <c>. _ -</c>).</summary>
    [JsonPropertyName("name")] public required string Name { get; init; }
    /// <summary>The bearer token the environment presents; the gateway generates one when null (admin API only).</summary>
    [JsonPropertyName("token")] public string? Token { get; init; }
    /// <summary>Model names the environment may request; empty or null allows every model.</summary>
    [JsonPropertyName("allowed_models")] public IReadOnlyList<string>? AllowedModels { get; init; }
    /// <summary>Requests in flight at once; beyond it 429 <see cref="GatewayErrorCodes.ConcurrencyLimitExceeded"/>.</summary>
    [JsonPropertyName("max_concurrency")] public int? MaxConcurrency { get; init; }
    /// <summary>Requests per minute (a token bucket of this size refilled evenly); beyond it 429 <see cref="GatewayErrorCodes.RateLimitExceeded"/>.</summary>
    [JsonPropertyName("requests_per_minute")] public int? RequestsPerMinute { get; init; }
    /// <summary>Largest <c>max_tokens</c> a request may ask for; a request without one is sent with this value.</summary>
    [JsonPropertyName("max_tokens_per_request")] public int? MaxTokensPerRequest { get; init; }
    /// <summary>Total tokens (prompt + completion, as the upstream reports) the environment may use; then 429 <see cref="GatewayErrorCodes.BudgetExhausted"/>.</summary>
    [JsonPropertyName("budget_tokens")] public long? BudgetTokens { get; init; }
    /// <summary>Hosts the environment may reach through the gateway's CONNECT proxy: <c>host</c> (port 443) or <c>host:port</c>.</summary>
    [JsonPropertyName("egress_hosts")] public IReadOnlyList<string>? EgressHosts { get; init; }
    /// <summary>
    /// Keep each exchange of each task (the messages sent, the reply, model, tokens, latency) until the task is
    /// collected (<see cref="GatewayRoutes.CollectSuffix"/>), within <see cref="TranscriptLimits"/>; null or true: on.
    /// False keeps only the usage figures, for validators who must not keep prompts.
    /// </summary>
    [JsonPropertyName("record_exchanges")] public bool? RecordExchanges { get; init; }
}

/// <summary>Answer of registering an environment: its name and the token to hand to it (shown only here).</summary>
public sealed record GatewayTenantCreated
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("token")] public required string Token { get; init; }
}

/// <summary>The gateway's config file: tenants known from the start (each with its token).</summary>
public sealed record GatewayConfig
{
    [JsonPropertyName("tenants")] public IReadOnlyList<GatewayTenant> Tenants { get; init; } = [];
}

/// <summary>Latency of the requests counted, in milliseconds, from arrival at the gateway to the last byte sent back.</summary>
public sealed record LatencySummary
{
    [JsonPropertyName("count")] public long Count { get; init; }
    [JsonPropertyName("mean")] public double Mean { get; init; }
    /// <summary>Over the most recent requests (the gateway keeps the last few thousand per environment).</summary>
    [JsonPropertyName("p50")] public double P50 { get; init; }
    [JsonPropertyName("p95")] public double P95 { get; init; }
    [JsonPropertyName("max")] public double Max { get; init; }
}

/// <summary>Usage of one task within an environment.</summary>
public sealed record TaskUsage
{
    /// <summary>Requests forwarded to the upstream.</summary>
    [JsonPropertyName("requests")] public long Requests { get; init; }
    /// <summary>Forwarded requests that failed: the upstream answered 4xx/5xx, or broke off.</summary>
    [JsonPropertyName("errors")] public long Errors { get; init; }
    [JsonPropertyName("prompt_tokens")] public long PromptTokens { get; init; }
    [JsonPropertyName("completion_tokens")] public long CompletionTokens { get; init; }
    [JsonPropertyName("total_tokens")] public long TotalTokens { get; init; }
    /// <summary>Successful answers that carried no <c>usage</c> (their tokens are not counted).</summary>
    [JsonPropertyName("responses_without_usage")] public long ResponsesWithoutUsage { get; init; }
    [JsonPropertyName("latency_ms")] public required LatencySummary LatencyMs { get; init; }
}

/// <summary>Usage of one environment: its totals, what the gateway refused, and the same per task.</summary>
public sealed record TenantUsage
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("requests")] public long Requests { get; init; }
    [JsonPropertyName("errors")] public long Errors { get; init; }
    [JsonPropertyName("prompt_tokens")] public long PromptTokens { get; init; }
    [JsonPropertyName("completion_tokens")] public long CompletionTokens { get; init; }
    [JsonPropertyName("total_tokens")] public long TotalTokens { get; init; }
    [JsonPropertyName("responses_without_usage")] public long ResponsesWithoutUsage { get; init; }
    [JsonPropertyName("latency_ms")] public required LatencySummary LatencyMs { get; init; }
    /// <summary>Requests the gateway answered itself, by error code (limits, budget, allow-list, bad input).</summary>
    [JsonPropertyName("rejected")] public IReadOnlyDictionary<string, long> Rejected { get; init; } = new Dictionary<string, long>();
    [JsonPropertyName("budget_tokens")] public long? BudgetTokens { get; init; }
    [JsonPropertyName("budget_remaining")] public long? BudgetRemaining { get; init; }
    /// <summary>CONNECT tunnels opened through the egress allow-list.</summary>
    [JsonPropertyName("tunnels")] public long Tunnels { get; init; }
    /// <summary>Per task id, for requests that carried one and were not collected yet (<see cref="GatewayRoutes.CollectSuffix"/>).</summary>
    [JsonPropertyName("tasks")] public IReadOnlyDictionary<string, TaskUsage> Tasks { get; init; } = new Dictionary<string, TaskUsage>();
}

/// <summary>Body of <c>POST /admin/usage/{name}/collect</c>: the tasks to collect.</summary>
public sealed record TaskCollection
{
    [JsonPropertyName("tasks")] public required IReadOnlyList<string> Tasks { get; init; }
}

/// <summary>What the gateway kept of one task until it was collected.</summary>
public sealed record TaskRecord
{
    [JsonPropertyName("usage")] public required TaskUsage Usage { get; init; }

    /// <summary>
    /// The task's exchanges with the model, oldest first (requests the gateway refused included); empty when the
    /// environment's registration said <see cref="GatewayTenant.RecordExchanges"/> false.
    /// </summary>
    [JsonPropertyName("exchanges")] public IReadOnlyList<ExchangeRecord> Exchanges { get; init; } = [];

    /// <summary>Exchanges not kept: beyond <see cref="TranscriptLimits.ExchangesPerTask"/>, or the gateway's memory for transcripts was full.</summary>
    [JsonPropertyName("exchanges_dropped")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int ExchangesDropped { get; init; }
}

/// <summary>
/// How much of a task's transcript the gateway keeps: each text (a message, a reply, its reasoning) up to
/// <see cref="MessageChars"/> characters, a task's texts up to <see cref="TaskChars"/> in all, at most
/// <see cref="ExchangesPerTask"/> exchanges per task. What is cut is marked (<c>truncated</c>), never silently lost.
/// </summary>
public static class TranscriptLimits
{
    /// <summary>Characters kept of one message, reply or reasoning (256 Ki).</summary>
    public const int MessageChars = 256 * 1024;

    /// <summary>Characters kept of all of one task's texts (2 Mi); later texts are cut or left out.</summary>
    public const int TaskChars = 2 * 1024 * 1024;

    /// <summary>Exchanges kept per task; later ones are only counted (<see cref="TaskRecord.ExchangesDropped"/>).</summary>
    public const int ExchangesPerTask = 100;

    /// <summary>Characters of an error body kept (the upstream's error, as the environment received it).</summary>
    public const int ErrorChars = 4096;
}

/// <summary>
/// One request of a task to the model and its answer, as the gateway forwarded them. Streamed answers are assembled
/// from their chunks. The upstream key never appears in it (masked as in answers).
/// </summary>
public sealed record ExchangeRecord
{
    /// <summary>When the request arrived at the gateway.</summary>
    [JsonPropertyName("started_at")] public DateTimeOffset StartedAt { get; init; }
    /// <summary>The API path after <c>/v1</c>: <c>chat/completions</c>, <c>completions</c>, <c>embeddings</c>.</summary>
    [JsonPropertyName("endpoint")] public required string Endpoint { get; init; }
    /// <summary>The model the answer named, else the one the request named.</summary>
    [JsonPropertyName("model")] public string? Model { get; init; }
    /// <summary>The request asked for a stream (<c>"stream": true</c>).</summary>
    [JsonPropertyName("stream")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool Stream { get; init; }
    /// <summary>The HTTP status the environment received (the upstream's, or the gateway's own refusal or 502/504).</summary>
    [JsonPropertyName("status")] public int Status { get; init; }
    /// <summary>Why it failed: the gateway's error code and message, or the upstream's error body (at most <see cref="TranscriptLimits.ErrorChars"/>).</summary>
    [JsonPropertyName("error")] public string? Error { get; init; }
    /// <summary>From arrival at the gateway to the last byte sent back, in milliseconds.</summary>
    [JsonPropertyName("latency_ms")] public double LatencyMs { get; init; }
    [JsonPropertyName("prompt_tokens")] public long? PromptTokens { get; init; }
    [JsonPropertyName("completion_tokens")] public long? CompletionTokens { get; init; }
    [JsonPropertyName("total_tokens")] public long? TotalTokens { get; init; }
    /// <summary>
    /// The first this many messages of the request were the previous exchange's first messages, and are left out of
    /// <see cref="Messages"/> (a conversation resends its history with every turn).
    /// </summary>
    [JsonPropertyName("repeated_messages")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int RepeatedMessages { get; init; }
    /// <summary>The request's messages after the repeated ones (a completions prompt is one <c>prompt</c> message; embeddings one <c>input</c>).</summary>
    [JsonPropertyName("messages")] public IReadOnlyList<ExchangeMessage> Messages { get; init; } = [];
    /// <summary>The assistant's text (the first choice); null when the answer had none.</summary>
    [JsonPropertyName("reply")] public string? Reply { get; init; }
    /// <summary>The assistant's reasoning (<c>reasoning_content</c> or <c>reasoning</c>), when the model sent one.</summary>
    [JsonPropertyName("reasoning")] public string? Reasoning { get; init; }
    /// <summary>The tool calls the assistant asked for, as JSON text.</summary>
    [JsonPropertyName("tool_calls")] public string? ToolCalls { get; init; }
    [JsonPropertyName("finish_reason")] public string? FinishReason { get; init; }
    /// <summary>Some of the request's text was cut or left out (per-text or per-task limit).</summary>
    [JsonPropertyName("request_truncated")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool RequestTruncated { get; init; }
    /// <summary>Some of the reply's text was cut or left out (per-text or per-task limit, or an answer too large to read).</summary>
    [JsonPropertyName("reply_truncated")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool ReplyTruncated { get; init; }
}

/// <summary>One message of a request, as text (content parts joined; non-text parts named in brackets).</summary>
public sealed record ExchangeMessage
{
    /// <summary><c>system</c>, <c>user</c>, <c>assistant</c>, <c>tool</c> ...</summary>
    [JsonPropertyName("role")] public required string Role { get; init; }
    [JsonPropertyName("content")] public string? Content { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    /// <summary>The tool calls of an assistant message, as JSON text.</summary>
    [JsonPropertyName("tool_calls")] public string? ToolCalls { get; init; }
    [JsonPropertyName("tool_call_id")] public string? ToolCallId { get; init; }
    /// <summary>The content was cut at the per-text limit or left out at the per-task limit.</summary>
    [JsonPropertyName("truncated")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool Truncated { get; init; }
}

/// <summary>Answer of <c>POST /admin/usage/{name}/collect</c>: the tasks that had anything to collect.</summary>
public sealed record CollectedTasks
{
    [JsonPropertyName("tasks")] public IReadOnlyDictionary<string, TaskRecord> Tasks { get; init; } = new Dictionary<string, TaskRecord>();
}

/// <summary>Body of <c>GET /admin/usage</c>.</summary>
public sealed record GatewayUsage
{
    [JsonPropertyName("tenants")] public required IReadOnlyList<TenantUsage> Tenants { get; init; }
}

/// <summary>Source-generated JSON metadata for the gateway's admin contract.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GatewayTenant))]
[JsonSerializable(typeof(IReadOnlyList<GatewayTenant>))]
[JsonSerializable(typeof(GatewayTenantCreated))]
[JsonSerializable(typeof(GatewayConfig))]
[JsonSerializable(typeof(GatewayUsage))]
[JsonSerializable(typeof(TenantUsage))]
[JsonSerializable(typeof(TaskCollection))]
[JsonSerializable(typeof(CollectedTasks))]
[JsonSerializable(typeof(IReadOnlyList<ExchangeRecord>))]
public sealed partial class GatewayJson : JsonSerializerContext;
