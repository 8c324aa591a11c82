return await Affinetes.LlmGateway.Hosting.GatewayApp.RunAsync(args);
