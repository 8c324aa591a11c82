using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// The host's console logging: lines formatted by <see cref="CompactLogFormatter"/> on the caller's thread, written to
/// standard output by one background thread that joins whatever lines are waiting into one write. Under load that is
/// one write per many calls instead of one per call line (Microsoft's console logger writes and flushes each line: a
/// third of the CPU of a trivial call). Each write stays under <see cref="AtomicWrite"/> bytes and ends at a line's end, so
/// the actor's own output on the same pipe never lands inside a line.
/// </summary>
[ProviderAlias("Console")]
internal sealed class BatchingConsoleLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    /// <summary>PIPE_BUF on Linux: a write of at most this many bytes to a pipe is never interleaved with another.</summary>
    private const int AtomicWrite = 4096;

    /// <summary>Lines waiting beyond this many make loggers wait (as Microsoft's console logger does), so memory stays bounded when stdout is slow.</summary>
    private const int MaxQueuedLines = 10_000;

    private readonly CompactLogFormatter _formatter = new();
    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(MaxQueuedLines)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });
    private readonly Func<TextWriter> _output;
    private readonly Thread _writer;
    private IExternalScopeProvider? _scopes;

    /// <param name="output">Where the lines go, read at each write (so a test's <see cref="Console.SetOut"/> is honoured); standard output by default.</param>
    public BatchingConsoleLoggerProvider(Func<TextWriter>? output = null)
    {
        _output = output ?? (static () => Console.Out);
        _writer = new Thread(Write) { IsBackground = true, Name = "affinetes log writer" };
        _writer.Start();
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    /// <summary>Writes what is queued, then stops the writer (at most 2 s: logging never holds the host's exit).</summary>
    public void Dispose()
    {
        _lines.Writer.TryComplete();
        _writer.Join(TimeSpan.FromSeconds(2));
    }

    private void Enqueue(string line)
    {
        if (!_lines.Writer.TryWrite(line))
        {
            // Full: wait for the writer (bounded memory). After Dispose (the host's last words at exit) write it directly.
            try
            {
                _lines.Writer.WriteAsync(line).AsTask().GetAwaiter().GetResult();
            }
            catch (ChannelClosedException)
            {
                var direct = new StringBuilder(line);
                Flush(direct);
            }
        }
    }

    private void Write()
    {
        var reader = _lines.Reader;
        var batch = new StringBuilder(AtomicWrite);
        var bytes = 0;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var line))
            {
                var size = Encoding.UTF8.GetByteCount(line);
                if (bytes > 0 && bytes + size > AtomicWrite)
                {
                    Flush(batch);
                    bytes = 0;
                }
                batch.Append(line);
                bytes += size;
            }
            Flush(batch);
            bytes = 0;
        }
    }

    private void Flush(StringBuilder batch)
    {
        if (batch.Length == 0)
        {
            return;
        }
        try
        {
            var output = _output();
            output.Write(batch.ToString()); // one string: a chunked builder would be one write per chunk
            output.Flush();
        }
        catch (IOException)
        {
            // stdout gone (its reader closed the pipe): nothing left to tell, and the host must go on serving.
        }
        catch (ObjectDisposedException)
        {
        }
        batch.Clear();
    }

    private sealed class Logger(BatchingConsoleLoggerProvider provider, string category) : ILogger
    {
        [ThreadStatic]
        private static StringWriter? t_buffer;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider._scopes?.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            var buffer = t_buffer ??= new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
            provider._formatter.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter), provider._scopes, buffer);
            var text = buffer.GetStringBuilder();
            if (text.Length > 0)
            {
                provider.Enqueue(text.ToString());
            }
            text.Clear();
            if (text.Capacity > 16 * 1024)
            {
                t_buffer = null; // an unusually long entry (an exception's text): do not keep its buffer per thread
            }
        }
    }
}
