using System.Net.Sockets;

namespace Affinetes.ValidatorClient.Gateway;

/// <summary>
/// The gateways' private directories (<c>$TMPDIR/affinetes-llm-XXXXXX</c>): each holds an owner lock that its process
/// keeps open while it lives, so that the next gateway started on this machine removes those whose owner was killed
/// (SIGKILL runs no cleanup). A directory without the lock (from an older version) goes once it is a minute old
/// and nothing answers on its admin socket.
/// </summary>
internal static class GatewayDirectories
{
    public const string Prefix = "affinetes-llm-";
    private const string LockName = "owner.lock";
    private static readonly TimeSpan Young = TimeSpan.FromMinutes(1);

    /// <summary>A new directory (mode 0700) and its lock, held until the returned stream is disposed.</summary>
    public static (string Root, FileStream Lock) Create()
    {
        var root = Directory.CreateTempSubdirectory(Prefix).FullName;
        // FileShare.None takes an exclusive advisory lock (flock): the kernel releases it however this process ends.
        var owner = new FileStream(Path.Combine(root, LockName), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        return (root, owner);
    }

    /// <summary>Removes the directories whose owner is gone; returns how many. Never throws.</summary>
    public static int RemoveAbandoned(string? parent = null)
    {
        var removed = 0;
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateDirectories(parent ?? Path.GetTempPath(), Prefix + "*").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
        foreach (var directory in candidates)
        {
            try
            {
                if (IsAbandoned(directory))
                {
                    Directory.Delete(directory, recursive: true);
                    removed++;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another user's, or being removed by someone else: not ours to clean.
            }
        }
        return removed;
    }

    private static bool IsAbandoned(string directory)
    {
        var lockPath = Path.Combine(directory, LockName);
        if (File.Exists(lockPath))
        {
            try
            {
                using var probe = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                return true; // nobody holds it
            }
            catch (IOException)
            {
                return false; // its owner lives
            }
        }
        if (DateTime.UtcNow - Directory.GetCreationTimeUtc(directory) < Young)
        {
            return false; // being set up right now
        }
        var admin = Path.Combine(directory, "admin.sock");
        if (!File.Exists(admin))
        {
            return true;
        }
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(admin));
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }
}
