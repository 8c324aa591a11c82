using Affinetes.ActorHost.Hosting;

return await ActorHostApp.RunAsync(args);
