namespace Affinetes.Protocol;

/// <summary>HTTP paths of the actor wire protocol (compatible with the Python original, plus /ready and /openapi.json).</summary>
public static class WireRoutes
{
    public const string Call = "/call";
    public const string Methods = "/methods";
    public const string Health = "/health";
    public const string Ready = "/ready";
    public const string OpenApi = "/openapi.json";

    /// <summary>
    /// <c>GET /ready?wait=SECONDS</c>: a host still starting answers as soon as the actor is ready or has failed (or
    /// the host is stopping), or after SECONDS, at most <see cref="MaxReadyWaitSeconds"/>; a client that starts a
    /// replica learns the moment it is ready with one request instead of polling. Servers without it answer at once.
    /// </summary>
    public const string ReadyWaitParameter = "wait";

    /// <summary>The longest <see cref="ReadyWaitParameter"/> a host honours.</summary>
    public const double MaxReadyWaitSeconds = 30;

    /// <summary><c>/ready?wait=SECONDS</c>.</summary>
    public static string ReadyWaiting(TimeSpan wait) =>
        $"{Ready}?{ReadyWaitParameter}={Math.Min(wait.TotalSeconds, MaxReadyWaitSeconds).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>The flat-kwargs route for one method: <c>POST /{method}</c>.</summary>
    public static string ForMethod(string method) => "/" + method;
}

/// <summary>Header names the host and the client agree on.</summary>
public static class WireHeaders
{
    /// <summary>Server-side deadline for one call, in seconds (decimal allowed). The host cancels the work past it.</summary>
    public const string Timeout = "X-Affinetes-Timeout";

    /// <summary>Set on every answer of the host: its version, so a client can report what it talked to.</summary>
    public const string HostVersion = "X-Affinetes-Host";

    /// <summary>
    /// The most result bytes the caller will read (a whole number). The host answers <see cref="ErrorCodes.ResultTooLarge"/>
    /// instead of sending a larger result (its own limit applies as well); servers without it ignore it, and the
    /// client stops reading past its limit all the same.
    /// </summary>
    public const string MaxResultBytes = "X-Affinetes-Max-Result-Bytes";
}

/// <summary>Bounds on what a call's result may be, the same on both sides of the wire.</summary>
public static class ResultLimits
{
    /// <summary>The result size both the host and the client accept unless told otherwise: 16 MiB.</summary>
    public const long DefaultMaxBytes = 16L * 1024 * 1024;

    /// <summary>
    /// How deeply a result may nest (objects and arrays within each other). Python's own JSON encoder stops near
    /// 1,000 levels (its recursion limit); readers on the client side accept this many.
    /// </summary>
    public const int MaxDepth = 1000;

    /// <summary>A size for messages: <c>16 MiB</c>, <c>300.5 MiB</c>, <c>512 bytes</c>.</summary>
    public static string Describe(long bytes) => bytes switch
    {
        >= 1L << 30 => Size(bytes / (double)(1L << 30), "GiB"),
        >= 1L << 20 => Size(bytes / (double)(1L << 20), "MiB"),
        >= 1L << 10 => Size(bytes / 1024.0, "KiB"),
        _ => $"{bytes} bytes",
    };

    private static string Size(double value, string unit) => value.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture) + " " + unit;
}

/// <summary>Values of <see cref="CallEnvelope.Status"/>.</summary>
/// <summary>The members of a call's success envelope (<see cref="CallEnvelope"/>), for readers on the hot path that do not deserialise it.</summary>
public static class EnvelopeFields
{
    public const string Status = "status";
    public const string Result = "result";
}

public static class CallStatus
{
    public const string Success = "success";
    public const string Failed = "failed";
}

/// <summary>Stable machine-readable codes carried in <see cref="ErrorDetail.Code"/>.</summary>
public static class ErrorCodes
{
    public const string MethodNotFound = "method_not_found";
    public const string InvalidJson = "invalid_json";
    public const string InvalidArguments = "invalid_arguments";
    public const string ActorError = "actor_error";
    public const string ResultNotSerializable = "result_not_serializable";
    public const string DeadlineExceeded = "deadline_exceeded";
    public const string Overloaded = "overloaded";
    public const string Unauthorized = "unauthorized";
    public const string PayloadTooLarge = "payload_too_large";
    public const string NotReady = "not_ready";
    public const string ShuttingDown = "shutting_down";

    /// <summary>No such route (a GET of an unknown path); methods are <see cref="MethodNotFound"/>.</summary>
    public const string NotFound = "not_found";

    /// <summary>The route exists for another HTTP method (e.g. <c>GET /call</c>, <c>POST /health</c>).</summary>
    public const string HttpMethodNotAllowed = "http_method_not_allowed";

    /// <summary>A request the server could not read (malformed HTTP, a body sent too slowly).</summary>
    public const string BadRequest = "bad_request";

    /// <summary>The method returned a result larger than the host's or the caller's limit (<see cref="WireHeaders.MaxResultBytes"/>); nothing of it was sent.</summary>
    public const string ResultTooLarge = "result_too_large";
}

/// <summary>
/// The original's <c>timeout</c> convention: on <c>POST /call</c>, a <c>timeout</c> keyword argument (seconds; it is
/// still passed to the method) bounds the call to <c>timeout + 10 s</c>; past that the answer is 200 with status
/// <c>failed</c> and <see cref="ExceededMessage"/> as <c>result.error</c>. A value that is not a number answers
/// <see cref="InvalidMessage"/> the same way, without calling the method.
/// </summary>
public static class TimeoutKwarg
{
    /// <summary>The keyword argument's name.</summary>
    public const string Name = "timeout";

    /// <summary>The grace added to the declared timeout before the call is given up.</summary>
    public const double GraceSeconds = 10;

    /// <summary>The answer's <c>result.error</c> when the call was given up; <paramref name="seconds"/> as Python prints a float.</summary>
    public static string ExceededMessage(string seconds) => $"Task execution exceeded timeout of {seconds}s (+10s grace)";

    /// <summary>The answer's <c>result.error</c> when <c>timeout</c> is not a number.</summary>
    public const string InvalidMessage = "Invalid timeout; expected a number of seconds.";
}
