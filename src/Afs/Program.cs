using System.CommandLine;
using Affinetes.Afs;
using Affinetes.ValidatorClient;

// Environments still loaded when the process is told to stop (Ctrl+C, SIGTERM) are released: afs opts in.
AffinetesClient.ReleaseEnvironmentsOnExit(TimeSpan.FromSeconds(20));
// Ctrl+C and SIGTERM cancel the command's token (afs run then removes what it started) instead of killing afs at once.
return await AfsCli.RunAsync(args, new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(15) });
