using Affinetes.ValidatorClient.Environments;
using Docker.DotNet;

namespace Affinetes.Afs.Commands;

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
    /// <summary>The environment is not running, cannot start or does not answer.</summary>
    public const int Unavailable = 5;
    /// <summary>Ctrl+C.</summary>
    public const int Cancelled = 130;
}

/// <summary>Turns the errors afs expects into one line on stderr and an exit code.</summary>
internal static class Failures
{
    /// <summary>Whether afs reports <paramref name="e"/> as a one-line message rather than a crash with a stack trace.</summary>
    public static bool IsExpected(Exception e) =>
        e is AffinetesException or ArgumentException or EngineException or DockerApiException or HttpRequestException or IOException or OperationCanceledException;

    private const string LibraryTokenHint = "set AuthToken to the token it was started with";

    /// <summary>Writes <c>afs COMMAND: message</c> and returns the exit code for <paramref name="e"/>.</summary>
    public static int Report(TextWriter error, string command, Exception e)
    {
        var (code, message) = e switch
        {
            MethodNotFoundException or BadArgumentsException => (ExitCodes.BadCall, e.Message),
            DeadlineExceededException => (ExitCodes.DeadlineExceeded, e.Message),
            RemoteActorException { StatusCode: 401 } => (ExitCodes.Failure, "the environment requires an auth token: pass --auth-token or set AFFINETES_AUTH_TOKEN"),
            RemoteActorException => (ExitCodes.RemoteError, e.Message),
            EnvironmentUnavailableException => (ExitCodes.Unavailable, e.Message),
            EnvironmentOptionsException when e.Message.EndsWith(LibraryTokenHint, StringComparison.Ordinal) =>
                (ExitCodes.Failure, e.Message[..^LibraryTokenHint.Length] + "pass the token it was started with: --auth-token or $AFFINETES_AUTH_TOKEN"),
            OperationCanceledException => (ExitCodes.Cancelled, "cancelled"),
            EngineException { InnerException: DockerApiException d } x => (ExitCodes.Failure, EngineAnswered(x.Spec, d)),
            EngineException x => (ExitCodes.Unavailable, $"cannot reach the Docker engine at {Engines.Describe(x.Spec)}: {e.Message}"),
            DockerApiException d => (ExitCodes.Failure, EngineAnswered(Engines.DefaultSpec, d)),
            // The client library wraps its own transport errors; a bare one without a status is the engine's socket.
            HttpRequestException { StatusCode: null } => (ExitCodes.Unavailable, $"cannot reach the Docker engine at {Engines.Describe(Engines.DefaultSpec)}: {e.Message}"),
            _ => (ExitCodes.Failure, e.Message),
        };
        error.WriteLine($"afs {command}: {OneLine(message)}");
        return code;
    }

    private static string EngineAnswered(string spec, DockerApiException e) =>
        $"the Docker engine at {Engines.Describe(spec)} answered {(int)e.StatusCode}: {e.ResponseBody?.Trim()}";

    /// <summary>A message on one line: its lines joined with "; " (a remote message or a log tail may span several).</summary>
    public static string OneLine(string message) =>
        string.Join("; ", message.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
}
