namespace Affinetes.LlmGateway.Hosting;

/// <summary>The executable: parse the command line, start the gateway, print where it listens, serve until SIGTERM.</summary>
internal static class GatewayApp
{
    /// <summary>Returns the exit code: 0 after a clean stop, 2 for unusable options.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var root = GatewayCommandLine.Build();
        root.SetAction(async (result, cancellationToken) =>
        {
            GatewayServer server;
            try
            {
                server = GatewayServer.Create(GatewayCommandLine.ToOptions(result, Environment.GetEnvironmentVariables()));
            }
            catch (OptionsException e)
            {
                await Console.Error.WriteLineAsync("affinetes-llm-gateway: " + e.Message);
                return 2;
            }
            await using (server)
            {
                try
                {
                    await server.StartAsync(cancellationToken);
                }
                catch (OptionsException e)
                {
                    await Console.Error.WriteLineAsync("affinetes-llm-gateway: " + e.Message);
                    return 2;
                }
                await Console.Out.WriteLineAsync(server.ReadyLine());
                await Console.Out.FlushAsync(cancellationToken);
                using var stdinClosed = new CancellationTokenSource();
                if (server.Options.ExitWithStdin)
                {
                    _ = WatchStdinAsync(stdinClosed);
                }
                await server.WaitForShutdownAsync(stdinClosed.Token);
            }
            return 0;
        });
        return await root.Parse(args).InvokeAsync();
    }

    /// <summary>Reads standard input to its end (what comes is ignored), then cancels <paramref name="closed"/>: a clean stop.</summary>
    private static async Task WatchStdinAsync(CancellationTokenSource closed)
    {
        try
        {
            await using var stdin = Console.OpenStandardInput();
            var buffer = new byte[256];
            while (await stdin.ReadAsync(buffer) > 0)
            {
            }
            await Console.Error.WriteLineAsync("affinetes-llm-gateway: standard input closed (the process that started the gateway is gone); stopping");
        }
        catch (IOException)
        {
        }
        await closed.CancelAsync();
    }
}
