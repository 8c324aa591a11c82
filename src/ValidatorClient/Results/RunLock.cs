using System.Globalization;

namespace Affinetes.ValidatorClient.Results;

/// <summary>
/// Says that a process is running a run now: an exclusive lock on a file beside the store, which the system
/// releases when the process ends however it ends (kill -9 included). Resuming a run another process is running
/// would run its tasks twice, so it is refused (<see cref="RunInUseException"/>).
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

    /// <summary>Takes the lock of run <paramref name="runId"/> in the store at <paramref name="storePath"/>.</summary>
    public static RunLock Take(string storePath, string runId)
    {
        var path = $"{storePath}.{runId}.lock";
        try
        {
            // FileShare.None takes an exclusive advisory lock (flock) on Unix: a second process cannot take it.
            var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            file.SetLength(0);
            file.Write(System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture)));
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
            throw new RunInUseException(runId, int.TryParse(holder, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null);
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

/// <summary>Another process is running this run right now; resuming it as well would run its tasks twice.</summary>
public sealed class RunInUseException(string runId, int? processId)
    : Environments.AffinetesException($"run {runId} is being run by another process right now{(processId is { } pid ? $" (process {pid})" : "")}; " +
        "wait for it to end or stop it (Ctrl+C keeps its results), then resume")
{
    public string RunId { get; } = runId;

    /// <summary>The process holding the run, when it said.</summary>
    public int? ProcessId { get; } = processId;

    public override bool IsRetryable => true;
}
