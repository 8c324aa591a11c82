using Affinetes.Injector.Dockerfiles;
using Affinetes.Protocol;

namespace Affinetes.Injector.Detection;

/// <summary>A Python <c>env.py</c> with <c>class Actor</c>, plus the Dockerfile that builds its Python runtime.</summary>
public sealed class PythonActorKind : IEnvironmentKind
{
    public string Name => "python";

    public string Label => EnvironmentKinds.Python;

    public string Requirements => "env.py (with class Actor) and a Dockerfile that copies it to /app/env.py";

    public bool Claims(string directory) => File.Exists(Path.Combine(directory, "env.py")) && !HttpBasedKind.DefinesApp(directory);

    public IReadOnlyList<string> Problems(string directory)
    {
        var problems = new List<string>();
        if (!File.Exists(Path.Combine(directory, "Dockerfile")))
        {
            problems.Add("Dockerfile is missing: write one that builds the Python runtime, e.g. 'FROM python:3.11-slim', 'COPY env.py /app/env.py'");
        }
        return problems;
    }

    public string HostLayerDockerfile(HostLayerInputs inputs) => HostLayer.Dockerfile(inputs, new HostLayerSpec
    {
        EnvType = Label,
        Runtime = RuntimeNames.Python,
        Environment = [new(HostEnvironment.EnvFile, "/app/env.py")],
    });

    public IReadOnlyDictionary<string, string> StarterFiles(string name) => new Dictionary<string, string>
    {
        ["env.py"] = StarterEnv.Replace("{{NAME}}", name, StringComparison.Ordinal),
        ["Dockerfile"] = StarterDockerfile,
        ["README.md"] = StarterReadme.Replace("{{NAME}}", name, StringComparison.Ordinal),
    };

    private const string StarterDockerfile = """
        FROM python:3.11-slim
        WORKDIR /app
        # Add your dependencies here, e.g.: COPY requirements.txt . && RUN pip install --no-cache-dir -r requirements.txt
        COPY env.py /app/env.py

        """;

    private const string StarterEnv = """"
        """{{NAME}}: an Affinetes evaluation environment.

        Every public method of Actor is served over HTTP by the ActorHost; miners write no server code.
        """
        import asyncio
        import json
        import os
        import random
        import re
        import time
        import urllib.request


        class Actor:
            def __init__(self):
                # Constructed once, when the container starts; its environment variables are visible here.
                self.api_key = os.environ.get("CHUTES_API_KEY", "")

            def generate(self, task_id: int, seed: int = 0) -> dict:
                """The deterministic challenge for a task: same task_id and seed, same prompt.

                A word problem of three kinds (finds more, spends, grows N times); afs's offline baseline, a keyword
                heuristic, answers the first two and gets the third wrong, so a first `afs eval` scores about 0.67.
                """
                rng = random.Random(f"{seed}:{task_id}")
                a, b = rng.randint(10, 99), rng.randint(2, 9)
                kind = (task_id + seed) % 3
                story = [f"She finds {b} more coins.", f"She spends {b} coins on tea.", f"Her savings grow to {b} times as many."][kind]
                expected = [a + b, a - b, a * b][kind]
                return {"prompt": f"Mia has {a} coins. {story} How many coins does Mia have now? Reply with the number only.",
                        "expected": expected}

            async def evaluate(self, task_id: int, model: str = "deepseek-ai/DeepSeek-V3",
                               base_url: str = "https://llm.chutes.ai/v1", timeout: float = 120, seed: int = 0,
                               **kwargs) -> dict:
                """Asks the model the task's question and scores its answer (1.0 right, 0.0 wrong)."""
                task = self.generate(task_id, seed)
                started = time.monotonic()
                result = {"task_id": task_id, "model": model, "score": 0.0, "success": False}
                try:
                    reply = await asyncio.to_thread(self._ask, base_url, model, task["prompt"], timeout)
                    numbers = re.findall(r"-?\d+", reply.replace(",", ""))
                    answer = int(numbers[-1]) if numbers else None
                    result.update(answer=answer, score=1.0 if answer == task["expected"] else 0.0, success=True)
                except Exception as e:  # a failed LLM call is a zero score with a reason, never a crash
                    result["error"] = f"{type(e).__name__}: {e}"
                result["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
                return result

            def _ask(self, base_url, model, prompt, timeout):
                body = json.dumps({"model": model, "temperature": 0,
                                   "messages": [{"role": "user", "content": prompt}]}).encode()
                request = urllib.request.Request(base_url.rstrip("/") + "/chat/completions", data=body, headers={
                    "Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"})
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    return json.load(response)["choices"][0]["message"]["content"] or ""

        """";

    private const string StarterReadme = """
        # {{NAME}}

        An Affinetes evaluation environment: `env.py` holds `class Actor`, whose public methods are served over HTTP.

        ```bash
        afs build . --tag {{NAME}}:dev                 # build the image with the ActorHost layered in
        afs run {{NAME}}:dev --name {{NAME}}           # start it
        afs call {{NAME}} generate --arg task_id=1     # call a method
        ```

        Methods: `generate(task_id, seed=0)` returns the task's prompt and expected answer; `evaluate(task_id, model,
        base_url, timeout, seed)` asks an OpenAI-compatible endpoint (API key from `CHUTES_API_KEY`) and scores the reply.
        `afs eval .` without `--base-url` asks afs's offline baseline, a keyword heuristic: it gets the "grows N times"
        problems wrong, so about two tasks in three score 1.

        """;
}
