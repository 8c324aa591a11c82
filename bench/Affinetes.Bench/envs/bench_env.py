"""The benchmark environment: a trivial sync method and an async one that waits like an LLM call."""
import asyncio


class Actor:
    def echo(self, x: int, text: str):
        return {"x": x, "text": text}

    async def evaluate(self, task_id: int, delay_ms: int = 50):
        await asyncio.sleep(delay_ms / 1000)
        return {"task_id": task_id, "score": 1.0, "success": True}
