using System.Runtime.CompilerServices;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;

namespace Affinetes.ValidatorClient.Jobs;

/// <summary>
/// A run on a Basilica deployment that ends when Basilica reports the deployment failed or gone: its tasks in flight
/// are abandoned (they stay missing, so a resume runs them), the results finished so far are stored and yielded, and
/// the enumeration ends with the <see cref="BasilicaDeploymentException"/> (phase, message, recent events) instead of
/// every remaining task failing, one ready timeout after the other, for a deployment that will not come back.
/// </summary>
internal sealed class DeploymentWatchedRun(IEvaluationRun run, Task<BasilicaDeploymentException> lost) : IEvaluationRun
{
    public string Id => run.Id;
    public EvaluationRequest Request => run.Request;
    public int TaskCount => run.TaskCount;
    public int AlreadyDone => run.AlreadyDone;
    public int CacheHits => run.CacheHits;
    public int ToRun => run.ToRun;
    public EvaluationProgress Progress => run.Progress;

    public async IAsyncEnumerable<TaskResult> ResultsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watching = StopWhenLostAsync(stop);
        try
        {
            await using var results = run.ResultsAsync(stop.Token).GetAsyncEnumerator(CancellationToken.None);
            while (true)
            {
                bool more;
                try
                {
                    more = await results.MoveNextAsync();
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && lost.IsCompletedSuccessfully)
                {
                    throw lost.Result;
                }
                if (!more)
                {
                    break;
                }
                yield return results.Current;
            }
        }
        finally
        {
            await stop.CancelAsync();
            await watching;
        }
    }

    private async Task StopWhenLostAsync(CancellationTokenSource stop)
    {
        try
        {
            await lost.WaitAsync(stop.Token);
            await stop.CancelAsync();
        }
        catch (OperationCanceledException)
        {
            // The run ended first.
        }
    }
}
