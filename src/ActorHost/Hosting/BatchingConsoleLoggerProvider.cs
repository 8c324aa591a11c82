using System.Text;
using System.Threading.Channels;

namespace Affinetes.ActorHost.Hosting;

/// <summary>
/// The host's console logging, one short line per entry for container logs:
/// <c>2026-11-25T13:06:27.510Z info call evaluate 200 51.3ms</c> (no category or event id noise; an exception follows
/// on its own lines).
/// <list type="bullet">
/// <item>The caller's thread only formats the message and queues it with its time and level.</item>
/// <item>One background thread encodes whatever lines are waiting into one buffer and writes it to standard output
/// with one <c>write(2)</c>. Under load that is one write per many calls instead of one per call line (Microsoft's
/// console logger writes and flushes each line: a third of the CPU of a trivial call).</item>
/// <item>Each write is at most <see cref="AtomicWrite"/> bytes and ends at a line's end, so the actor's own output on
/// the same pipe never lands inside a line. (<c>Console.Out</c> cannot promise that: it writes in 256-byte pieces.)</item>
/// </list>
/// </summary>
[ProviderAlias("Console")]
internal sealed class BatchingConsoleLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    /// <summary>PIPE_BUF on Linux: a write of at most this many bytes to a pipe is never interleaved with another.</summary>
    private const int AtomicWrite = 4096;

    /// <summary>Lines waiting beyond this many make loggers wait (as Microsoft's console logger does), so memory stays bounded when stdout is slow.</summary>
    private const int MaxQueuedLines = 10_000;

    /// <summary>
    /// After a wake-up the writer lets this long pass before it writes, so that a busy host's lines go out in batches
    /// (a wake-up per line costs a context switch per call); a line reaches the log at most this much later.
    /// </summary>
    private static readonly TimeSpan Gather = TimeSpan.FromMilliseconds(1);

    private readonly Channel<Entry> _lines = Channel.CreateBounded<Entry>(new BoundedChannelOptions(MaxQueuedLines)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });
    private readonly Stream _output;
    private readonly Thread _writer;
    private readonly Lock _writing = new();
    private IExternalScopeProvider? _scopes;

    /// <param name="output">Where lines go; standard output when null.</param>
    public BatchingConsoleLoggerProvider(Stream? output = null)
    {
        _output = output ?? Console.OpenStandardOutput();
        _writer = new Thread(Write) { IsBackground = true, Name = "affinetes log writer" };
        _writer.Start();
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
        _lines.Writer.TryComplete();
        _writer.Join(TimeSpan.FromSeconds(2));
    }

    /// <summary>One log entry as queued: the text is formatted, the line is not.</summary>
    private readonly record struct Entry(DateTime Time, LogLevel Level, string Message, Exception? Exception);

    private void Enqueue(Entry entry)
    {
        if (!_lines.Writer.TryWrite(entry))
        {
            // Full: wait for the writer (bounded memory). After Dispose (the host's last words at exit) write it directly.
            try
            {
                _lines.Writer.WriteAsync(entry).AsTask().GetAwaiter().GetResult();
            }
            catch (ChannelClosedException)
            {
                var batch = new Batch(_output, _writing);
                batch.Add(entry);
                batch.Flush();
            }
        }
    }

    private void Write()
    {
        var reader = _lines.Reader;
        var batch = new Batch(_output, _writing);
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            Thread.Sleep(Gather);
            while (reader.TryRead(out var entry))
            {
                batch.Add(entry);
            }
            batch.Flush();
        }
    }

    /// <summary>Lines encoded into one buffer, written when the next would take it past <see cref="AtomicWrite"/>.</summary>
    private sealed class Batch(Stream output, Lock writing)
    {
        private static readonly byte[][] Levels =
        [
            " trce "u8.ToArray(), " dbug "u8.ToArray(), " info "u8.ToArray(), " warn "u8.ToArray(), " fail "u8.ToArray(), " crit "u8.ToArray(),
        ];

        private byte[] _buffer = new byte[AtomicWrite];
        private int _length;

        public void Add(Entry entry)
        {
            var text = entry.Exception is null ? entry.Message : $"{entry.Message}\n{entry.Exception}";
            var size = 24 + Levels[0].Length + Encoding.UTF8.GetMaxByteCount(text.Length) + 1;
            if (_length > 0 && _length + size > AtomicWrite)
            {
                Flush();
            }
            if (size > _buffer.Length)
            {
                _buffer = new byte[size]; // one long entry (an exception's text) goes out alone
            }
            var span = _buffer.AsSpan(_length);
            entry.Time.TryFormat(span, out var written, "yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
            var level = Levels[Math.Clamp((int)entry.Level, 0, Levels.Length - 1)];
            level.CopyTo(span[written..]);
            written += level.Length;
            written += Encoding.UTF8.GetBytes(text, span[written..]);
            span[written++] = (byte)'\n';
            _length += written;
        }

        public void Flush()
        {
            if (_length == 0)
            {
                return;
            }
            try
            {
                lock (writing)
                {
                    output.Write(_buffer, 0, _length);
                    output.Flush();
                }
            }
            catch (IOException)
            {
                // stdout gone (its reader closed the pipe): nothing left to tell, and the host must go on serving.
            }
            catch (ObjectDisposedException)
            {
            }
            _length = 0;
            if (_buffer.Length > AtomicWrite)
            {
                _buffer = new byte[AtomicWrite];
            }
        }
    }

    private sealed class Logger(BatchingConsoleLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider._scopes?.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            var message = formatter(state, exception);
            if (string.IsNullOrEmpty(message) && exception is null)
            {
                return;
            }
            provider.Enqueue(new Entry(DateTime.UtcNow, logLevel, message ?? "", exception));
        }
    }
}
