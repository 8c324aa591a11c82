using Docker.DotNet;
using Docker.DotNet.Models;

namespace Affinetes.Testing;

/// <summary>
/// Local test images tagged with the fixed names a test chain's miners committed (e.g. <c>affinetes-test/chain-good:v1</c>),
/// for as long as the test holds this; disposing removes the tags and any container left of them. The names are
/// fixed, so two test processes on the machine would move each other's tags, and a tag removed under a running test
/// would have its miner pulled from a registry: every holder on the machine waits for one file lock first.
/// </summary>
public sealed class CommittedImages : IAsyncDisposable
{
    private static readonly string LockPath = Path.Combine(Path.GetTempPath(), "affinetes-test-committed-images.lock");
    private readonly DockerClient _docker;
    private readonly FileStream _lock;
    private readonly List<string> _tagged = [];

    private CommittedImages(DockerClient docker, FileStream held)
    {
        _docker = docker;
        _lock = held;
    }

    /// <summary>Waits (at most <paramref name="wait"/>, default 20 minutes) for the machine's lock, then tags each source image as its committed name.</summary>
    public static async Task<CommittedImages> TagAsync(DockerClient docker, IReadOnlyDictionary<string, string> committedToSource, TimeSpan? wait = null)
    {
        ArgumentNullException.ThrowIfNull(docker);
        ArgumentNullException.ThrowIfNull(committedToSource);
        var held = await LockAsync(wait ?? TimeSpan.FromMinutes(20));
        var images = new CommittedImages(docker, held);
        try
        {
            foreach (var (committed, source) in committedToSource)
            {
                var colon = committed.LastIndexOf(':');
                if (colon < committed.LastIndexOf('/') || committed.Contains('@', StringComparison.Ordinal))
                {
                    throw new ArgumentException($"{committed}: a committed test image is name:tag", nameof(committedToSource));
                }
                await docker.Images.TagImageAsync(source, new ImageTagParameters { RepositoryName = committed[..colon], Tag = committed[(colon + 1)..] }).Within();
                images._tagged.Add(committed);
            }
            return images;
        }
        catch
        {
            await images.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            var containers = await _docker.Containers.ListContainersAsync(new ContainersListParameters { All = true });
            foreach (var container in containers.Where(c => _tagged.Contains(c.Image)))
            {
                await DockerEngine.RemoveContainerQuietlyAsync(_docker, container.ID);
            }
            foreach (var tag in _tagged)
            {
                // The source image keeps its own name: removing this one only untags it.
                await DockerEngine.RemoveImageQuietlyAsync(_docker, tag);
            }
        }
        finally
        {
            await _lock.DisposeAsync();
        }
    }

    private static async Task<FileStream> LockAsync(TimeSpan wait)
    {
        // FileShare.None takes an exclusive flock on Unix: another process (or another holder here) waits, and a
        // process that dies lets go of it.
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            try
            {
                return new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e)
            {
                if (DateTime.UtcNow >= deadline)
                {
                    throw new TimeoutException($"{LockPath} stayed locked for {wait.TotalMinutes:0.#} min: another test holds the committed images' names", e);
                }
                await Task.Delay(TimeSpan.FromMilliseconds(500));
            }
        }
    }
}
