using System.CommandLine;
using Affinetes.Afs;

// Ctrl+C and SIGTERM cancel the command's token (afs run then removes what it started) instead of killing afs at once.
return await AfsCli.Build().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(15) });
