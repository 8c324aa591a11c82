"""Test environment for afs eval, score and validate.

BEHAVIOUR=good: deterministic; score is (task_id % 4) / 4.
BEHAVIOUR=random: generate and evaluate are not deterministic (validate must say so).
BEHAVIOUR=raise: evaluate raises (score must give the miner 0).
"""

import asyncio
import os
import random

BEHAVIOUR = os.environ.get("BEHAVIOUR", "good")
_attempts = {}


class Actor:
    def generate(self, task_id: int) -> dict:
        """The challenge of a task."""
        if BEHAVIOUR == "random":
            return {"prompt": f"problem {task_id} variant {random.random()}"}
        return {"prompt": f"problem {task_id}"}

    async def evaluate(self, task_id: int, delay: float = 0.0, flaky: int = 0, slow_task: int = -1) -> dict:
        """Scores a task after `delay` s; the first `flaky` attempts of a task and every attempt of `slow_task` hang."""
        if BEHAVIOUR == "raise":
            raise RuntimeError("this miner's actor raises")
        attempt = _attempts[task_id] = _attempts.get(task_id, 0) + 1
        if attempt <= flaky or task_id == slow_task:
            await asyncio.sleep(600)
        await asyncio.sleep(delay)
        score = random.random() if BEHAVIOUR == "random" else (task_id % 4) / 4
        return {"task_id": task_id, "score": score, "success": True, "prompt": self.generate(task_id)["prompt"]}
