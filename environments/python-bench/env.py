"""The client benchmark's environment (scripts/bench.sh client): a trivial sync method and an async one that waits
like an LLM call. The same Actor as bench/Affinetes.Bench/envs/bench_env.py, which the host benchmark runs without
Docker."""
import asyncio


class Actor:
    def echo(self, x: int, text: str):
        return {"x": x, "text": text}

    async def evaluate(self, task_id: int, delay_ms: int = 50):
        await asyncio.sleep(delay_ms / 1000)
        return {"task_id": task_id, "score": 1.0, "success": True}
