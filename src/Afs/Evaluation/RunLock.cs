using Affinetes.Afs.Cli;

namespace Affinetes.Afs.Evaluation;

/// <summary>
/// Says that a process is running a run now: an exclusive lock on a file beside the store, which the system
/// releases when the process ends however it ends (kill -9 included). Resuming a run another afs is running
/// would run its tasks twice, so it is refused.
/// </summary>
internal sealed class RunLock : IDisposable
{
    private readonly FileStream _file;
    private readonly string _path;

    private RunLock(FileStream file, string path)
    {
        _file = file;
        _path = path;
    }

    /// <summary>Takes the lock of run <paramref name="runId"/> in the store at <paramref name="storePath"/>; throws <see cref="UsageException"/> when another process holds it.</summary>
    public static RunLock Take(string storePath, string runId)
    {
        var path = $"{storePath}.{runId}.lock";
        try
        {
            // FileShare.None takes an exclusive advisory lock (flock) on Unix: a second afs cannot take it.
            var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            file.SetLength(0);
            var pid = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            file.Write(pid);
            file.Flush();
            return new RunLock(file, path);
        }
        catch (IOException)
        {
            var holder = "";
            try
            {
                using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                holder = new StreamReader(reader).ReadToEnd().Trim();
            }
            catch (IOException)
            {
            }
            throw new UsageException($"run {runId} is being run by another afs right now{(holder.Length > 0 ? $" (process {holder})" : "")}; " +
                "wait for it to end or stop it (Ctrl+C keeps its results), then resume");
        }
    }

    public void Dispose()
    {
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }
        _file.Dispose();
    }
}
