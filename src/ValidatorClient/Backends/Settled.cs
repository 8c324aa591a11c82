namespace Affinetes.ValidatorClient.Backends;

/// <summary>Awaiting requests that create things (containers, deployments) so that a cancelled caller still learns what they created.</summary>
internal static class Settled
{
    /// <summary>
    /// Awaits a request that changes state (create, start), sent without the caller's token: a request abandoned
    /// mid-flight may still take effect after the caller gave up, leaving something nobody tracks. When the caller is
    /// cancelled this still waits (bounded) for the request to finish, so that its effect is known and can be undone;
    /// the caller checks its token afterwards.
    /// </summary>
    public static async Task<T> WaitAsync<T>(Task<T> request, CancellationToken cancellationToken)
    {
        try
        {
            return await request.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            try
            {
                return await request.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
            }
            catch (TimeoutException)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }
    }
}
