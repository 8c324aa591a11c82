namespace Affinetes.Afs.Cli;

/// <summary>
/// A library callback (notes, per-miner scores) as a synchronous action: <see cref="Progress{T}"/> would post to a
/// context, and the lines would come out of order or after the command's own.
/// </summary>
internal sealed class Reporter<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}
