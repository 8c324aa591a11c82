using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.ValidatorClient.Backends.Docker;

/// <summary>Reads a container's log as lines, from its multiplexed stream.</summary>
internal static class ContainerLogs
{
    /// <summary>The log lines (the last <paramref name="tail"/> when given), and the new ones until cancelled when <paramref name="follow"/>.</summary>
    public static async IAsyncEnumerable<string> ReadAsync(IDockerClient docker, string containerId, bool follow, int? tail,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stream = await docker.Containers.GetContainerLogsAsync(containerId, new ContainerLogsParameters
        {
            ShowStdout = true,
            ShowStderr = true,
            Follow = follow,
            Tail = tail?.ToString(CultureInfo.InvariantCulture) ?? "all",
        }, cancellationToken);
        await foreach (var line in LinesAsync(stream, cancellationToken))
        {
            yield return line;
        }
    }

    /// <summary>
    /// The lines of a multiplexed stream (stdout and stderr as they come), the last one even without its newline; a
    /// line longer than <see cref="LineSplitter.MaxLineChars"/> is cut there, so a container that prints without a
    /// newline costs no memory.
    /// </summary>
    public static async IAsyncEnumerable<string> LinesAsync(MultiplexedStream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        var splitter = new LineSplitter();
        var lines = new List<string>();
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken);
            if (read.EOF)
            {
                break;
            }
            splitter.Add(buffer.AsSpan(0, read.Count), lines);
            foreach (var line in lines)
            {
                yield return line;
            }
            lines.Clear();
        }
        if (splitter.Finish() is { } last)
        {
            yield return last;
        }
    }
}

/// <summary>Splits UTF-8 output into lines, each at most <see cref="MaxLineChars"/> characters (the rest is counted, not kept).</summary>
internal sealed class LineSplitter
{
    /// <summary>The longest line kept whole; past it the line ends in a note of how much was cut.</summary>
    public const int MaxLineChars = 16 * 1024;

    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
    private readonly StringBuilder _pending = new();
    private char[] _chars = [];
    private long _dropped;

    /// <summary>Adds output; the lines it completes go to <paramref name="lines"/>.</summary>
    public void Add(ReadOnlySpan<byte> bytes, List<string> lines)
    {
        var needed = _decoder.GetCharCount(bytes, flush: false);
        if (_chars.Length < needed)
        {
            _chars = new char[Math.Max(needed, 8192)];
        }
        var count = _decoder.GetChars(bytes, _chars, flush: false);
        var start = 0;
        for (var i = 0; i < count; i++)
        {
            if (_chars[i] != '\n')
            {
                continue;
            }
            Keep(_chars.AsSpan(start, i - start));
            lines.Add(Take().TrimEnd('\r'));
            start = i + 1;
        }
        Keep(_chars.AsSpan(start, count - start));
    }

    /// <summary>The last line when the output did not end with a newline; null otherwise.</summary>
    public string? Finish() => _pending.Length > 0 || _dropped > 0 ? Take() : null;

    private void Keep(ReadOnlySpan<char> chars)
    {
        var room = Math.Max(0, MaxLineChars - _pending.Length);
        _pending.Append(chars[..Math.Min(room, chars.Length)]);
        _dropped += Math.Max(0, chars.Length - room);
    }

    private string Take()
    {
        var line = _dropped > 0 ? $"{_pending} ... ({_dropped} more characters cut)" : _pending.ToString();
        _pending.Clear();
        _dropped = 0;
        return line;
    }
}

/// <summary>
/// A started container's output, attached before it starts, its last lines kept: what a container that dies at once
/// said, even after its engine removed it.
/// </summary>
internal sealed class ContainerOutput : IDisposable
{
    private const int Keep = 40;

    private readonly Queue<string> _tail = new();
    private readonly CancellationTokenSource _stop;
    private readonly Lock _gate = new();

    private ContainerOutput(CancellationTokenSource stop) => _stop = stop;

    /// <summary>Attaches to a created (not yet started) container and keeps reading its output in the background.</summary>
    public static async Task<ContainerOutput> AttachAsync(IDockerClient docker, string containerId, CancellationToken stopping)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var output = new ContainerOutput(stop);
        var stream = await docker.Containers.AttachContainerAsync(containerId,
            new ContainerAttachParameters { Stream = true, Stdout = true, Stderr = true }, stop.Token);
        _ = Task.Run(async () =>
        {
            using (stream)
            {
                try
                {
                    await foreach (var line in ContainerLogs.LinesAsync(stream, stop.Token))
                    {
                        output.Add(line);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
                {
                    // The container or this environment went away.
                }
            }
        }, CancellationToken.None);
        return output;
    }

    private void Add(string line)
    {
        lock (_gate)
        {
            _tail.Enqueue(line);
            if (_tail.Count > Keep)
            {
                _tail.Dequeue();
            }
        }
    }

    /// <summary>The last lines it wrote.</summary>
    public string Tail()
    {
        lock (_gate)
        {
            return string.Join('\n', _tail).Trim();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
