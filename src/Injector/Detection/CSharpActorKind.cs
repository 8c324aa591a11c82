using Affinetes.Injector.Dockerfiles;
using Affinetes.Protocol;

namespace Affinetes.Injector.Detection;

/// <summary>
/// A C# actor: <c>Actor.cs</c> with <c>public class Actor</c>, compiled by the host with Roslyn. The image's build
/// compiles it into the host's compile cache, so that containers start without running the compiler.
/// </summary>
public sealed class CSharpActorKind : IEnvironmentKind
{
    /// <summary>The actor's source, in the environment directory and at <c>/app/</c> in the image.</summary>
    public const string ActorFile = "Actor.cs";

    public string Name => RuntimeNames.CSharp;

    public string Label => EnvironmentKinds.Python; // an Actor whose methods the host serves: function_based to the original's clients

    public string Requirements => "Actor.cs (with public class Actor) and a Dockerfile that copies it to /app/Actor.cs";

    public bool Claims(string directory) => File.Exists(Path.Combine(directory, ActorFile));

    public IReadOnlyList<string> Problems(string directory) => File.Exists(Path.Combine(directory, "Dockerfile"))
        ? []
        : ["Dockerfile is missing: write one that copies the actor, e.g. 'FROM python:3.11-slim', 'WORKDIR /app', 'COPY Actor.cs /app/Actor.cs' (any glibc image works; the host brings .NET)"];

    public string HostLayerDockerfile(HostLayerInputs inputs) => HostLayer.Dockerfile(inputs, new HostLayerSpec
    {
        EnvType = Label,
        Runtime = RuntimeNames.CSharp,
        Environment =
        [
            new(HostEnvironment.EnvFile, "/app/" + ActorFile),
            new(HostEnvironment.CacheDirectory, HostLayer.CacheDirectory),
        ],
        BuildSteps = ["--compile"],
        Binary = HostLayer.ManagedHostBinary,
    });

    public IReadOnlyDictionary<string, string> StarterFiles(string name) => new Dictionary<string, string>
    {
        [ActorFile] = StarterActor.Replace("{{NAME}}", name, StringComparison.Ordinal),
        ["Dockerfile"] = StarterDockerfile,
        ["README.md"] = StarterReadme.Replace("{{NAME}}", name, StringComparison.Ordinal),
    };

    private const string StarterDockerfile = """
        # Any glibc-based image works: the ActorHost layered on top brings .NET and compiles Actor.cs.
        FROM python:3.11-slim
        WORKDIR /app
        COPY Actor.cs /app/Actor.cs
        # Libraries the actor uses: put their DLLs beside Actor.cs or in lib/ and copy them too, e.g. COPY lib/ /app/lib/

        """;

    private const string StarterActor = """
        // {{NAME}}: an Affinetes evaluation environment in C#.
        // Every public method of Actor is served over HTTP by the ActorHost (Evaluate is called as "evaluate", its
        // parameter taskId as "task_id"); miners write no server code. System, LINQ, tasks, System.Text.Json and
        // Affinetes.Actors are imported already; the official OpenAI SDK is available through Llm.Chat(...).
        using System.ComponentModel;
        using System.Diagnostics;
        using System.Text.RegularExpressions;
        using OpenAI.Chat;

        public record Problem(int TaskId, int Seed, string Prompt, int Expected);

        public class Actor
        {
            [Description("The deterministic challenge for a task: same task_id and seed, same prompt.")]
            public Problem Generate(int taskId, int seed = 0)
            {
                // A word problem of three kinds (finds more, spends, grows N times); afs's offline baseline, a keyword
                // heuristic, answers the first two and gets the third wrong, so a first afs eval scores about 0.67.
                var random = new Random(unchecked((seed * 1_000_003) + taskId) & int.MaxValue); // a seeded Random repeats across runs
                int a = random.Next(10, 100), b = random.Next(2, 10), kind = (int)(((long)taskId + seed) % 3 + 3) % 3;
                string[] stories = [$"She finds {b} more coins.", $"She spends {b} coins on tea.", $"Her savings grow to {b} times as many."];
                int[] answers = [a + b, a - b, a * b];
                return new Problem(taskId, seed, $"Mia has {a} coins. {stories[kind]} How many coins does Mia have now? Reply with the number only.", answers[kind]);
            }

            [Description("Asks the model the task's question and scores its answer (1.0 right, 0.0 wrong).")]
            public async Task<Dictionary<string, object?>> Evaluate(int taskId, string model = "deepseek-ai/DeepSeek-V3",
                string baseUrl = "https://llm.chutes.ai/v1", double timeout = 120, int seed = 0, CancellationToken cancellationToken = default)
            {
                var task = Generate(taskId, seed);
                var result = new Dictionary<string, object?> { ["task_id"] = taskId, ["model"] = model, ["score"] = 0.0, ["success"] = false };
                var clock = Stopwatch.StartNew();
                try
                {
                    var chat = Llm.Chat(model, baseUrl, TimeSpan.FromSeconds(timeout));
                    ChatCompletion reply = await chat.CompleteChatAsync([new UserChatMessage(task.Prompt)], new ChatCompletionOptions { Temperature = 0 }, cancellationToken);
                    var numbers = Regex.Matches(reply.Content.Count > 0 ? reply.Content[0].Text.Replace(",", "") : "", @"-?\d+");
                    int? answer = numbers.Count > 0 ? int.Parse(numbers[^1].Value) : null;
                    result["answer"] = answer;
                    result["score"] = answer == task.Expected ? 1.0 : 0.0;
                    result["success"] = true;
                }
                catch (Exception e) when (e is not OperationCanceledException) // a failed LLM call is a zero score with a reason
                {
                    result["error"] = $"{e.GetType().Name}: {e.Message}";
                }
                result["latency_ms"] = Math.Round(clock.Elapsed.TotalMilliseconds, 1);
                return result;
            }
        }

        """;

    private const string StarterReadme = """
        # {{NAME}}

        An Affinetes evaluation environment in C#: `Actor.cs` holds `public class Actor`, whose public methods are
        served over HTTP (names in snake_case: `Evaluate(int taskId)` is `evaluate` with `task_id`).

        ```bash
        afs build . --tag {{NAME}}:dev                 # build the image (Actor.cs is compiled during the build)
        afs run {{NAME}}:dev --name {{NAME}}           # start it
        afs call {{NAME}} generate --arg task_id=1     # call a method
        ```

        Methods: `generate(task_id, seed=0)` returns the task's prompt and expected answer; `evaluate(task_id, model,
        base_url, timeout, seed)` asks an OpenAI-compatible endpoint through the OpenAI SDK (`Llm.Chat`, API key from
        `CHUTES_API_KEY` or `OPENAI_API_KEY`) and scores the reply.

        Other libraries: put their DLLs beside `Actor.cs` or in `lib/` (and copy them into `/app` in the Dockerfile);
        they are referenced when the actor compiles and loaded when it runs.

        """;
}
