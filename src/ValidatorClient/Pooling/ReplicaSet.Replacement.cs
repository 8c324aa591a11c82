using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Telemetry;
using Polly;
using Polly.Retry;

namespace Affinetes.ValidatorClient.Pooling;

/// <summary>The replacement of a replica given up: removed through the backend, its slot started again with retries.</summary>
internal sealed partial class ReplicaSet
{
    private static readonly ResiliencePropertyKey<int> SlotKey = new("affinetes.slot");

    /// <summary>Starts a slot again up to five times, about 1, 2, 4, 8 s apart; a cancelled start or a rejected token is not tried again.</summary>
    private ResiliencePipeline RestartPipeline() =>
        new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException && e is not EnvironmentAuthenticationException),
                MaxRetryAttempts = 4,
                Delay = TimeSpan.FromSeconds(1),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = args =>
                {
                    Log.ReplacementFailed(_logger, args.Context.Properties.GetValue(SlotKey, -1), EnvironmentName, args.AttemptNumber + 1,
                        args.Outcome.Exception?.Message ?? "unknown");
                    return default;
                },
            })
            .Build();

    /// <summary>
    /// Gives <paramref name="replica"/> up (its calls in flight fail over) and, where the backend can, removes it and
    /// starts its slot again; where it cannot, the replica stays in the set, skipped until its probes succeed.
    /// </summary>
    public void Replace(Replica replica, string reason)
    {
        if (!_backend.CanReplace)
        {
            return;
        }
        lock (_gate)
        {
            if (IsDisposed || replica.IsAbandoned || _slots[replica.Index] != replica)
            {
                return;
            }
            replica.Abandon();
            _slots[replica.Index] = null;
            RefreshLocked();
            Log.ReplicaReplacing(_logger, replica.Endpoint.Description, reason);
            Instruments.ReplicasReplaced.Add(1, new KeyValuePair<string, object?>("affinetes.environment", EnvironmentName));
            _background.RemoveAll(t => t.IsCompleted);
            _background.Add(Task.Run(() => ReplaceAsync(replica), CancellationToken.None));
        }
        ReplicaRemoved?.Invoke(replica.Endpoint, reason);
    }

    private async Task ReplaceAsync(Replica old)
    {
        var token = _stopping.Token;
        try
        {
            await _backend.RemoveReplicaAsync(old.Endpoint, token);
            var context = ResilienceContextPool.Shared.Get(token);
            context.Properties.Set(SlotKey, old.Index);
            try
            {
                await _restart.ExecuteAsync(static async (ctx, state) =>
                    await state.Set.StartSlotAsync(state.Index, ctx.CancellationToken), context, (Set: this, old.Index));
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }
            Replica? replacement;
            lock (_gate)
            {
                replacement = _slots[old.Index];
            }
            Log.ReplicaReplaced(_logger, old.Endpoint.Description, replacement?.Endpoint.Description ?? "?");
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Log.ReplacementFailed(_logger, old.Index, EnvironmentName, 5, e.Message);
            lock (_gate)
            {
                RefreshLocked(); // calls waiting for a replica see that none is coming
            }
        }
    }
}
