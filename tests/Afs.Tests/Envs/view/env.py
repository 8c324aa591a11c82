"""An evaluation environment for the afs view tests: scores spread over [0, 1], latencies over 0-30 ms, and a
failure for every seventh task; a conversation with a model (two turns, the second streamed); a slow method for
runs watched while they go on."""
import asyncio
import json
import urllib.request


def _chat(base_url, api_key, model, messages, stream):
    body = {"model": model, "messages": messages, "stream": stream}
    request = urllib.request.Request(
        base_url.rstrip("/") + "/chat/completions", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        if not stream:
            return json.loads(response.read())["choices"][0]["message"]["content"]
        text = []
        for line in response:
            line = line.decode().strip()
            if line.startswith("data: ") and line != "data: [DONE]":
                for choice in json.loads(line[6:]).get("choices", []):
                    text.append(choice.get("delta", {}).get("content") or "")
        return "".join(text)


class Actor:
    async def evaluate(self, task_id: int, model: str = "weak"):
        """Scores task_id by its remainder mod 5; a 'strong' model scores 0.25 more; multiples of 7 raise."""
        await asyncio.sleep((task_id % 4) * 0.01)
        if task_id % 7 == 0:
            raise ValueError(f"task {task_id} has no answer")
        score = min(1.0, (task_id % 5) / 4 + (0.25 if model == "strong" else 0.0))
        return {"score": score, "success": score >= 0.5, "task_id": task_id, "model": model}

    async def converse(self, task_id: int, base_url: str, api_key: str, model: str = "m"):
        """Asks the model about the task, then asks again streamed; scores 1 when the last reply names the task."""
        messages = [
            {"role": "system", "content": "You are a careful assistant.\nName the task you are given."},
            {"role": "user", "content": f"Task {task_id}: which task is this?"},
        ]
        first = await asyncio.to_thread(_chat, base_url, api_key, model, messages, False)
        messages += [{"role": "assistant", "content": first}, {"role": "user", "content": "Say it once more."}]
        second = await asyncio.to_thread(_chat, base_url, api_key, model, messages, True)
        return {"score": 1.0 if str(task_id) in second else 0.0, "task_id": task_id,
                "reply": f"{first}\n{second}", "note": "two lines:\nfirst and second"}

    async def slow(self, task_id: int, ms: int = 300):
        """Sleeps `ms` and scores task_id % 3 / 2 (a run to watch while it goes on)."""
        await asyncio.sleep(ms / 1000)
        return {"score": (task_id % 3) / 2, "task_id": task_id}
