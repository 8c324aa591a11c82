"""An environment that asks a model (an OpenAI-compatible base_url) one question per task, whole or streamed, and
scores 1 when the reply names the task id: for the transcript tests."""
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
    async def evaluate(self, task_id: int, base_url: str, api_key: str, model: str = "m", stream: bool = False, turns: int = 1):
        """Asks `turns` questions in one conversation; scores 1 when the last reply contains the task id."""
        messages = [{"role": "system", "content": "Answer with the task number."}]
        reply = ""
        for turn in range(turns):
            messages.append({"role": "user", "content": f"Task {task_id}, turn {turn + 1}: which task is this?"})
            reply = await asyncio.to_thread(_chat, base_url, api_key, model, messages, stream)
            messages.append({"role": "assistant", "content": reply})
        return {"task_id": task_id, "score": 1.0 if str(task_id) in reply else 0.0, "reply": reply}
