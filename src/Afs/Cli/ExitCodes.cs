using Affinetes.Injector.Building;
using Affinetes.Injector.Detection;
using Affinetes.Injector.Sources;
using Affinetes.ValidatorClient.Backends.Docker;
using Affinetes.ValidatorClient.Environments;
using Docker.DotNet;

namespace Affinetes.Afs.Cli;

/// <summary>Exit codes of afs, so that scripts can tell failures apart.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>Bad usage or options, or any other failure.</summary>
    public const int Failure = 1;
    /// <summary>The actor ran and raised.</summary>
    public const int RemoteError = 2;
    /// <summary>No such method, or arguments that do not fit it.</summary>
    public const int BadCall = 3;
    /// <summary>The call's <c>--timeout</c> passed.</summary>
    public const int DeadlineExceeded = 4;
    /// <summary>The environment is not running, cannot start or does not answer (a Basilica deployment that failed or never became ready); or the Docker engine, the Basilica API or the subtensor node cannot be reached.</summary>
    public const int Unavailable = 5;
    /// <summary>Ctrl+C or SIGTERM.</summary>
    public const int Cancelled = 130;
}

/// <summary>The command line was used wrongly; the message says how to use it.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The deadline the user gave (<c>--timeout</c>) passed; the message says what was not done in time.</summary>
internal sealed class CommandDeadlineException(string message) : Exception(message);

/// <summary>The one place that turns the failures afs expects into a message and an exit code, by their type.</summary>
internal static class ErrorReport
{
    /// <summary>Whether <paramref name="e"/> is reported as a one-line message rather than a crash with a stack trace.</summary>
    public static bool IsExpected(Exception e) => e is AffinetesException or UsageException or CommandDeadlineException
        or DockerApiException or HttpRequestException or IOException or OperationCanceledException or TimeoutException
        or BuildException or DetectionException or SourceException or System.Text.Json.JsonException or ArgumentException;

    /// <summary>The exit code and the message for <paramref name="e"/>.</summary>
    public static (int Code, string Message) Describe(Exception e) => e switch
    {
        MethodNotFoundException or BadArgumentsException => (ExitCodes.BadCall, e.Message),
        DeadlineExceededException or CommandDeadlineException => (ExitCodes.DeadlineExceeded, e.Message),
        EnvironmentAuthenticationException a => (ExitCodes.Failure, a.TokenSent
            ? "the environment rejected the auth token: pass the token it was started with (--auth-token or $AFFINETES_AUTH_TOKEN)"
            : "the environment requires an auth token: pass the token it was started with (--auth-token or $AFFINETES_AUTH_TOKEN)"),
        RemoteActorException => (ExitCodes.RemoteError, e.Message),
        ValidatorClient.Results.RunInUseException used => (ExitCodes.Failure, $"run {used.RunId} is being run by another afs right now{(used.ProcessId is { } pid ? $" (process {pid})" : "")}; " +
            "wait for it to end or stop it (Ctrl+C keeps its results), then resume"),
        EnvironmentUnavailableException or BasilicaDeploymentException or ValidatorClient.Episodes.EpisodeLostException => (ExitCodes.Unavailable, e.Message),
        ValidatorClient.Miners.MinersSourceException { IsRetryable: true } => (ExitCodes.Unavailable, e.Message),
        DockerEngineException { StatusCode: { } status } x => (ExitCodes.Failure, $"the Docker engine at {x.Where} answered {status}: {x.Message}"),
        DockerEngineException x => (ExitCodes.Unavailable, $"cannot reach the Docker engine at {x.Where}: {x.Message}"),
        DockerApiException d => (ExitCodes.Failure, $"the Docker engine at {Engines.Describe(Engines.DefaultSpec)} answered {(int)d.StatusCode}: {EngineMessage(d)}"),
        // The client library wraps its own transport errors; a bare one without a status is the engine's socket.
        HttpRequestException { StatusCode: null } => (ExitCodes.Unavailable, $"cannot reach the Docker engine at {Engines.Describe(Engines.DefaultSpec)}: {e.Message}"),
        OperationCanceledException or TimeoutException => (ExitCodes.Failure, $"gave up waiting: {e.Message}"),
        _ => (ExitCodes.Failure, e.Message),
    };

    /// <summary>The engine's own words for a refusal (its JSON body's message), else the client library's.</summary>
    private static string EngineMessage(DockerApiException e)
    {
        try
        {
            using var body = System.Text.Json.JsonDocument.Parse(e.ResponseBody ?? "");
            return body.RootElement.TryGetProperty("message", out var message) && message.GetString() is { Length: > 0 } text ? text : e.Message;
        }
        catch (System.Text.Json.JsonException)
        {
            return string.IsNullOrWhiteSpace(e.ResponseBody) ? e.Message : e.ResponseBody.Trim();
        }
    }

    /// <summary>A message on one line: its lines joined with "; " (a remote message or a log tail may span several).</summary>
    public static string OneLine(string message) =>
        string.Join("; ", message.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
}
