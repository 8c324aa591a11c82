"""The benchmarks' environment: a trivial sync method and an async one that waits like an LLM call. The host
benchmark (scripts/bench.sh host) serves this file without Docker; the client benchmark also builds it into an image."""
import asyncio


class Actor:
    def echo(self, x: int, text: str):
        return {"x": x, "text": text}

    async def evaluate(self, task_id: int, delay_ms: int = 50):
        await asyncio.sleep(delay_ms / 1000)
        return {"task_id": task_id, "score": 1.0, "success": True}
