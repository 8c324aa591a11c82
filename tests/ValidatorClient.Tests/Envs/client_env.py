"""The environment the client tests call: fast and slow, sync and async, failing on purpose."""
import asyncio
import os


class Actor:
    def __init__(self):
        self.cancelled = []

    def echo(self, x: int, text: str = "hi"):
        return {"x": x, "text": text, "pid": os.getpid()}

    async def sleep(self, ms: int = 100, tag: str = ""):
        try:
            await asyncio.sleep(ms / 1000)
        except asyncio.CancelledError:
            self.cancelled.append(tag)
            raise
        return {"slept_ms": ms, "tag": tag}

    def cancellations(self):
        return self.cancelled

    def fail(self, message: str = "boom"):
        raise ValueError(message)

    def score(self, task_id: int, model: str = "m"):
        return {"task_id": task_id, "score": 0.5, "success": True, "model": model}

    def environment(self, name: str):
        return os.environ.get(name)

    def big(self, size: int, task_id: int = 0):
        return {"task_id": task_id, "text": "x" * size}

    def deep(self, depth: int):
        value = []
        for _ in range(depth):
            value = [value]
        return {"score": 1.0, "nested": value}

    def hog(self, mb: int):
        """Allocates (and touches) mb MiB: past the container's memory limit the kernel kills it."""
        blocks = [bytearray(1 << 20) for _ in range(mb)]
        return len(blocks)

    def llm_score(self, task_id: int, model: str = "m", base_url: str = ""):
        """One chat completion at base_url (else OPENAI_BASE_URL) with OPENAI_API_KEY: score 1 when it answered 200."""
        import json
        import urllib.error
        import urllib.request
        url = (base_url or os.environ["OPENAI_BASE_URL"]).rstrip("/") + "/chat/completions"
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": f"task {task_id}"}]}).encode()
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "")})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return {"task_id": task_id, "score": 1.0 if response.status == 200 else 0.0, "success": response.status == 200}
        except urllib.error.HTTPError as e:
            return {"task_id": task_id, "score": 0.0, "success": False, "status": e.code, "body": e.read().decode()[:300]}
