"""An evaluation environment for the afs view tests: scores spread over [0, 1], latencies over 0-30 ms, and a
failure for every seventh task."""
import asyncio


class Actor:
    async def evaluate(self, task_id: int, model: str = "weak"):
        """Scores task_id by its remainder mod 5; a 'strong' model scores 0.25 more; multiples of 7 raise."""
        await asyncio.sleep((task_id % 4) * 0.01)
        if task_id % 7 == 0:
            raise ValueError(f"task {task_id} has no answer")
        score = min(1.0, (task_id % 5) / 4 + (0.25 if model == "strong" else 0.0))
        return {"score": score, "success": score >= 0.5, "task_id": task_id, "model": model}
