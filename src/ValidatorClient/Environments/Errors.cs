namespace Affinetes.ValidatorClient.Environments;

/// <summary>Base of every error the client raises about an environment or a call.</summary>
public abstract class AffinetesException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Whether the same call may succeed if tried again (elsewhere or later).</summary>
    public virtual bool IsRetryable => false;
}

/// <summary>The actor ran and raised: <see cref="RemoteType"/> is the exception's type in the environment.</summary>
public sealed class RemoteActorException(string method, string? remoteType, string remoteMessage, int statusCode, string? code)
    : AffinetesException($"{method} raised {(remoteType is null ? "" : remoteType + ": ")}{remoteMessage}")
{
    public string Method { get; } = method;
    public string? RemoteType { get; } = remoteType;
    public string RemoteMessage { get; } = remoteMessage;
    public int StatusCode { get; } = statusCode;
    /// <summary>The host's error code (<c>actor_error</c>, <c>result_not_serializable</c> ...), when it sent one.</summary>
    public string? Code { get; } = code;
}

/// <summary>The environment has no public method of that name; the message lists the methods it has when its host said.</summary>
public sealed class MethodNotFoundException(string method, string? hostMessage = null)
    : AffinetesException(Describe(method, hostMessage))
{
    public string Method { get; } = method;

    // The host says "Method not found: X; did you mean 'Y'? (methods: ...)": keep what it adds, not what it repeats.
    private static string Describe(string method, string? hostMessage) => hostMessage switch
    {
        null => $"the environment has no method '{method}'",
        _ when hostMessage.StartsWith($"Method not found: {method}", StringComparison.Ordinal) =>
            $"the environment has no method '{method}'{hostMessage[$"Method not found: {method}".Length..]}",
        _ => $"the environment has no method '{method}': {hostMessage}",
    };
}

/// <summary>The arguments do not fit the method: missing, unexpected, or of the wrong type.</summary>
public sealed class BadArgumentsException(string method, string? parameter, string message)
    : AffinetesException($"bad arguments for {method}: {message}")
{
    public string Method { get; } = method;
    public string? Parameter { get; } = parameter;
}

/// <summary>
/// The method's result is larger than the limit (<see cref="EnvironmentOptions.MaxResultBytes"/>, or the host's own):
/// the host refused to send it, or the client stopped reading past the limit. Nothing of it is kept; the same call
/// gives the same result, so retrying does not help.
/// </summary>
public sealed class ResultTooLargeException(string method, string message, long limit, long? size)
    : AffinetesException(message)
{
    public string Method { get; } = method;

    /// <summary>The limit that was passed, in bytes.</summary>
    public long Limit { get; } = limit;

    /// <summary>The result's size in bytes, when it is known (the host said, or the answer declared its length).</summary>
    public long? Size { get; } = size;
}

/// <summary>
/// The call's deadline (<c>_timeout</c> / the timeout argument) passed before an answer came. Distinct from the
/// caller's own cancellation, which surfaces as <see cref="OperationCanceledException"/>.
/// </summary>
public sealed class DeadlineExceededException(string method, TimeSpan deadline, bool serverSide)
    : AffinetesException($"{method} did not answer within {deadline.TotalSeconds:0.###} s{(serverSide ? " (the environment cancelled it)" : "")}")
{
    public string Method { get; } = method;
    public TimeSpan Deadline { get; } = deadline;

    /// <summary>True when the environment cancelled the call (its 504), false when the client stopped waiting.</summary>
    public bool ServerSide { get; } = serverSide;

    public override bool IsRetryable => true;
}

/// <summary>
/// The environment cannot serve: its container died (exit code and last log lines), it never became ready (the
/// host's own reason, e.g. an ImportError), or no replica answers.
/// </summary>
public sealed class EnvironmentUnavailableException(string message, long? exitCode = null, string? logTail = null, string? reason = null, Exception? inner = null)
    : AffinetesException(message + (reason is null ? "" : $": {reason}") + (exitCode is null ? "" : $" (exit code {exitCode})") + (string.IsNullOrWhiteSpace(logTail) ? "" : $"\nlast log lines:\n{logTail}"), inner)
{
    public long? ExitCode { get; } = exitCode;
    public string? LogTail { get; } = logTail;

    /// <summary>The message without the reason, exit code and log tail.</summary>
    internal string Description { get; } = message;
    /// <summary>Why the actor cannot start, in the host's words.</summary>
    public string? Reason { get; } = reason;
    public override bool IsRetryable => ExitCode is null && Reason is null;
}

/// <summary>
/// The environment requires a bearer token and the call carried none, or another one (its host answered 401): set
/// <see cref="EnvironmentOptions.AuthToken"/> to the token it was started with. Waiting or retrying does not help.
/// </summary>
public sealed class EnvironmentAuthenticationException(string description, bool tokenSent)
    : AffinetesException(tokenSent
        ? $"{description} rejected the auth token (it answered 401); give the token it was started with"
        : $"{description} requires an auth token (it answered 401); give the token it was started with")
{
    /// <summary>Whether a token was sent (and rejected) rather than missing.</summary>
    public bool TokenSent { get; } = tokenSent;
}

/// <summary>
/// Options that cannot be used. <see cref="Errors"/> lists every problem found, each saying how to fix it, so that a
/// configuration is mended in one go rather than one complaint at a time. With one problem the message is that
/// problem; with several, one line: <c>3 problems with the environment options: A; B; C</c>.
/// </summary>
public sealed class EnvironmentOptionsException : AffinetesException
{
    /// <summary>One problem: it is the message.</summary>
    public EnvironmentOptionsException(string message)
        : this([message])
    {
    }

    /// <summary>Every problem found in the environment options (at least one).</summary>
    public EnvironmentOptionsException(IReadOnlyList<string> errors)
        : this(errors, "the environment options")
    {
    }

    /// <summary>Every problem found in <paramref name="subject"/> (<c>the client options</c> ...), which the message names when there are several.</summary>
    internal EnvironmentOptionsException(IReadOnlyList<string> errors, string subject)
        : base(Describe(errors, subject))
    {
        Errors = [.. errors];
    }

    /// <summary>Every problem found, in the order the options were checked; the message is the only one when there is one.</summary>
    public IReadOnlyList<string> Errors { get; }

    private static string Describe(IReadOnlyList<string> errors, string subject)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return errors.Count switch
        {
            0 => throw new ArgumentException("an options error needs at least one problem", nameof(errors)),
            1 => errors[0],
            _ => $"{errors.Count} problems with {subject}: {string.Join("; ", errors)}",
        };
    }
}

/// <summary>
/// A container was not started because a cap on containers was reached (<see cref="AffinetesClientOptions"/>); the
/// message names the cap and how to raise it. Starting again once containers are released may succeed.
/// </summary>
public sealed class ContainerLimitException(string message, string limit, double value) : AffinetesException(message)
{
    /// <summary>The option that sets the cap: <c>MaxLiveContainers</c>, <c>MaxLiveContainersPerEngine</c>.</summary>
    public string Limit { get; } = limit;

    /// <summary>The cap's value.</summary>
    public double Value { get; } = value;

    public override bool IsRetryable => true;
}
