// Runs one evaluation into a results store, as a validator process would, until it ends or is killed:
//   affinetes-eval-worker STORE URL start METHOD TASKS CONCURRENCY
//   affinetes-eval-worker STORE URL resume RUN
// Prints "run ID" once the run is recorded, then "done N" when every result is stored.
using System.Globalization;
using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Results;

if (args.Length < 4)
{
    Console.Error.WriteLine("usage: affinetes-eval-worker STORE URL start METHOD TASKS CONCURRENCY | STORE URL resume RUN");
    return 1;
}
await using var store = await ResultStore.OpenAsync(args[0]);
await using var environment = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions { Mode = EnvironmentMode.Url, BaseUrls = [args[1]] });
var runner = EvaluationRunner.Create(environment, store);
var run = args[2] == "resume"
    ? await runner.ResumeAsync(args[3])
    : await runner.StartAsync(new EvaluationRequest
    {
        Method = args[3],
        TaskIds = [.. Enumerable.Range(1, int.Parse(args[4], CultureInfo.InvariantCulture)).Select(i => (long)i)],
        Concurrency = int.Parse(args[5], CultureInfo.InvariantCulture),
        ImageDigest = "sha256:eval-worker",
    });
Console.WriteLine($"run {run.Id}");
var count = 0;
await foreach (var _ in run.ResultsAsync())
{
    count++;
}
Console.WriteLine($"done {count}");
return 0;
