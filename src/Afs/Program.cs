using Affinetes.Afs;

return await AfsCli.Build().Parse(args).InvokeAsync();
