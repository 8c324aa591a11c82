using System.CommandLine;
using Microsoft.Extensions.Logging;

namespace Affinetes.Afs.Cli;

/// <summary>What a running command works with: its parsed arguments, its console, the engines it was given and a logger factory.</summary>
internal sealed class CommandContext : IAsyncDisposable
{
    private readonly Option<string[]>? _hosts;

    public CommandContext(string command, ParseResult parseResult, Option<string[]>? hosts)
    {
        Command = command;
        ParseResult = parseResult;
        _hosts = hosts;
        Json = parseResult.GetValue(AfsCommand.JsonOption);
        Verbose = parseResult.GetValue(AfsCommand.VerboseOption);
        Console = new AfsConsole(command, parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error, Json);
        LoggerFactory = Microsoft.Extensions.Logging.LoggerFactory.Create(logging =>
        {
            logging.SetMinimumLevel(Verbose ? LogLevel.Debug : LogLevel.Warning);
            logging.AddProvider(new ConsoleErrorLoggerProvider(Console));
        });
    }

    /// <summary>The command's name, as in <c>afs NAME</c>.</summary>
    public string Command { get; }

    public ParseResult ParseResult { get; }

    public AfsConsole Console { get; }

    /// <summary><c>--json</c> was given.</summary>
    public bool Json { get; }

    /// <summary><c>--verbose</c> was given.</summary>
    public bool Verbose { get; }

    /// <summary>Logs of the library (warnings, or everything with <c>--verbose</c>) go to stderr as <c>afs COMMAND: ...</c> lines.</summary>
    public ILoggerFactory LoggerFactory { get; }

    public T? Get<T>(Option<T> option) => ParseResult.GetValue(option);

    public T? Get<T>(Argument<T> argument) => ParseResult.GetValue(argument);

    /// <summary>Whether <paramref name="option"/> was written on the command line (not just its default).</summary>
    public bool Given(Option option) => ParseResult.GetResult(option) is { Implicit: false };

    /// <summary>The engines given with <c>--host</c>, else <c>$DOCKER_HOST</c>, else the local socket.</summary>
    public IReadOnlyList<string> Engines => _hosts is null
        ? [Cli.Engines.DefaultSpec]
        : Cli.Engines.Resolve(ParseResult, _hosts);

    public ValueTask DisposeAsync()
    {
        LoggerFactory.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes log messages as <c>afs COMMAND: [level] message</c> lines on the command's stderr.</summary>
    private sealed class ConsoleErrorLoggerProvider(AfsConsole console) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(console);

        public void Dispose()
        {
        }

        private sealed class Logger(AfsConsole console) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var level = logLevel switch
                {
                    LogLevel.Trace or LogLevel.Debug => "debug",
                    LogLevel.Information => "info",
                    LogLevel.Warning => "warning",
                    _ => "error",
                };
                console.Error($"[{level}] {formatter(state, exception)}");
            }
        }
    }
}
