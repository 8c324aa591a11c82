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

    /// <summary>The lines of a multiplexed stream (stdout and stderr as they come), the last one even without its newline.</summary>
    public static async IAsyncEnumerable<string> LinesAsync(MultiplexedStream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
        var pending = new StringBuilder();
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken);
            if (read.EOF)
            {
                break;
            }
            var count = decoder.GetChars(buffer, 0, read.Count, chars, 0);
            var start = 0;
            for (var i = 0; i < count; i++)
            {
                if (chars[i] != '\n')
                {
                    continue;
                }
                pending.Append(chars, start, i - start);
                yield return pending.ToString().TrimEnd('\r');
                pending.Clear();
                start = i + 1;
            }
            pending.Append(chars, start, count - start);
        }
        if (pending.Length > 0)
        {
            yield return pending.ToString();
        }
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
