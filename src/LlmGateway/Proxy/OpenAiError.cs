using System.Text.Json;

namespace Affinetes.LlmGateway.Proxy;

/// <summary>
/// An error the gateway answers itself, in OpenAI's shape <c>{"error":{"message","type","param","code"}}</c> so
/// that OpenAI SDKs raise their usual exception types (401 AuthenticationError, 429 RateLimitError ...).
/// </summary>
internal sealed record OpenAiError(int Status, string Code, string Type, string Message, string? Param = null)
{
    /// <summary>Seconds to send as <c>Retry-After</c>, for rate and concurrency limits.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Writes the error as the answer.</summary>
    public async Task WriteAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        response.StatusCode = Status;
        response.ContentType = "application/json";
        if (RetryAfter is { } after)
        {
            response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        await using var writer = new Utf8JsonWriter(response.Body);
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", Message);
        writer.WriteString("type", Type);
        if (Param is null)
        {
            writer.WriteNull("param");
        }
        else
        {
            writer.WriteString("param", Param);
        }
        writer.WriteString("code", Code);
        writer.WriteEndObject();
        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken);
    }
}
