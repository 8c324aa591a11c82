namespace Affinetes.ValidatorClient.Environments;

/// <summary>
/// Basilica answered with an error: its HTTP status, its <c>code</c> (<c>BASILICA_API_...</c>, or one made from the
/// status when the body was empty) and its message. Never carries the API key.
/// </summary>
public sealed class BasilicaApiException(int statusCode, string code, string remoteMessage, bool retryable, string request)
    : AffinetesException($"basilica {request} failed: {statusCode} {code}: {remoteMessage}")
{
    public int StatusCode { get; } = statusCode;
    public string Code { get; } = code;
    public string RemoteMessage { get; } = remoteMessage;
    /// <summary>429, 503, or an error Basilica marks <c>retryable</c>: the client retries these itself before raising.</summary>
    public override bool IsRetryable { get; } = retryable;
}

/// <summary>
/// A Basilica deployment did not become ready (it failed, timed out, or the load was cancelled); it was deleted
/// before this was raised. Carries Basilica's phase, message and the deployment's recent events.
/// </summary>
public sealed class BasilicaDeploymentException(string instanceName, string? phase, string? remoteMessage, IReadOnlyList<string> events, string what)
    : AffinetesException($"basilica deployment {instanceName} {what} (phase {phase ?? "unknown"}{(string.IsNullOrEmpty(remoteMessage) ? "" : ": " + remoteMessage)}); it was deleted"
        + (events.Count == 0 ? "" : "\nrecent events:\n" + string.Join('\n', events)))
{
    public string InstanceName { get; } = instanceName;
    public string? Phase { get; } = phase;
    public string? RemoteMessage { get; } = remoteMessage;
    public IReadOnlyList<string> Events { get; } = events;
}
