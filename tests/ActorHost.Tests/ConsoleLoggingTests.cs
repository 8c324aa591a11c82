using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using Affinetes.ActorHost.Hosting;
using Microsoft.Extensions.Logging;

namespace Affinetes.ActorHost.Tests;

/// <summary>The host's console lines: their form, and writes that never split a line (PIPE_BUF-sized, at line ends).</summary>
public sealed partial class ConsoleLoggingTests
{
    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (info|warn|fail|crit|dbug|trce) .*$")]
    private static partial Regex LinePattern();

    [Fact]
    public async Task ManyThreads_EveryWriteIsAtMostPipeBufAndEndsAtALineEnd()
    {
        var output = new RecordingStream();
        using (var provider = new BatchingConsoleLoggerProvider(output))
        {
            var logger = provider.CreateLogger("test");
            await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
            {
                for (var i = 0; i < 2_000; i++)
                {
                    logger.LogInformation("call {Method} {Status} {DurationMs:0.0}ms thread {Thread} line {Line}", "evaluate", 200, 51.25, t, i);
                }
            })));
        }

        var writes = output.Writes.ToArray();
        Assert.All(writes, w => Assert.True(w.Length <= 4096 && w[^1] == (byte)'\n', $"a write of {w.Length} bytes"));
        Assert.True(writes.Length < 16_000, $"{writes.Length} writes for 16,000 lines: they should be batched");
        var lines = Encoding.UTF8.GetString([.. writes.SelectMany(w => w)]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(16_000, lines.Length);
        Assert.All(lines, line => Assert.Matches(LinePattern(), line));
        Assert.Contains(lines, l => l.EndsWith(" info call evaluate 200 51.3ms thread 7 line 1999", StringComparison.Ordinal));
    }

    [Fact]
    public void AnEntryLongerThanPipeBuf_IsWrittenAloneAndWhole_WithItsException()
    {
        var output = new RecordingStream();
        using (var provider = new BatchingConsoleLoggerProvider(output))
        {
            var logger = provider.CreateLogger("test");
            logger.LogWarning("short one");
            logger.LogError(new InvalidOperationException("it broke"), "long one {Text}", new string('é', 5_000));
            logger.LogWarning("short two");
        }

        var text = Encoding.UTF8.GetString([.. output.Writes.SelectMany(w => w)]);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(LinePattern(), lines[0]);
        Assert.EndsWith(" warn short one", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" fail long one " + new string('é', 5_000), lines[1], StringComparison.Ordinal);
        Assert.Equal("System.InvalidOperationException: it broke", lines[2]);
        Assert.EndsWith(" warn short two", lines[^1], StringComparison.Ordinal);
        var long1 = Assert.Single(output.Writes, w => w.Length > 4096);
        Assert.Contains("it broke", Encoding.UTF8.GetString(long1), StringComparison.Ordinal);
    }

    [Fact]
    public void CallLines_AreWrittenFromTheirFields_WithTheirTime_AndLinesAfterDisposeStillGoOut()
    {
        var output = new RecordingStream();
        var before = DateTime.UtcNow;
        ILogger logger;
        using (var provider = new BatchingConsoleLoggerProvider(output))
        {
            logger = provider.CreateLogger("test");
            logger.Log(LogLevel.Information, CallLine.EventId, new CallLine("evaluate", 200, 51.25), null, CallLine.Format);
            logger.Log(LogLevel.Warning, CallLine.EventId, new CallLine("évalué", 504, 30_000.04), null, CallLine.Format);
        }
        var after = DateTime.UtcNow;
        logger.LogWarning("last words");

        var lines = Encoding.UTF8.GetString([.. output.Writes.SelectMany(w => w)]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.All(lines, line => Assert.Matches(LinePattern(), line));
        Assert.EndsWith(" info call evaluate 200 51.3ms", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" warn call évalué 504 30000.0ms", lines[1], StringComparison.Ordinal);
        Assert.EndsWith(" warn last words", lines[2], StringComparison.Ordinal);
        var written = DateTime.ParseExact(lines[0][..24], "yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal);
        Assert.InRange(written, before.AddMilliseconds(-1), after);
    }

    [Fact]
    public void ACallLine_ShowsItsFieldsToOtherLoggers()
    {
        var line = new CallLine("evaluate", 200, 51.25);
        Assert.Equal("call evaluate 200 51.3ms", CallLine.Format(line, null));
        Assert.Equal(["Method", "Status", "DurationMs", "{OriginalFormat}"], line.Select(p => p.Key));
        Assert.Equal(["evaluate", 200, 51.25, CallLine.Template], line.Select(p => p.Value));
    }

    /// <summary>Keeps every <c>Write</c> call apart, as a pipe's reader would see each write(2).</summary>
    private sealed class RecordingStream : Stream
    {
        public ConcurrentQueue<byte[]> Writes { get; } = new();

        public override void Write(byte[] buffer, int offset, int count) => Writes.Enqueue(buffer[offset..(offset + count)]);

        public override void Flush()
        {
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
