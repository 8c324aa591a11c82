"""The environment the evaluation runner tests call: scores by task id, an actor error, a transient slowness, and a
log of the task ids it was called with (to prove which tasks ran and how often)."""
import asyncio


class Actor:
    def __init__(self):
        self.calls = []
        self.seen = set()

    async def evaluate(self, task_id: int, ms: int = 0, model: str = "m"):
        """Score (task_id % 4) / 4; success False for multiples of 5."""
        self.calls.append(task_id)
        if ms:
            await asyncio.sleep(ms / 1000)
        return {"task_id": task_id, "score": (task_id % 4) / 4, "success": task_id % 5 != 0, "model": model}

    def raises(self, task_id: int):
        """Odd tasks score 1; even ones raise (an actor error, never retried)."""
        self.calls.append(task_id)
        if task_id % 2 == 0:
            raise ValueError(f"task {task_id} is even")
        return {"task_id": task_id, "score": 1.0}

    async def slow_first(self, task_id: int, ms: int = 5000):
        """The first call of each task sleeps `ms`; later calls answer at once (a transient slowness)."""
        self.calls.append(task_id)
        first = task_id not in self.seen
        self.seen.add(task_id)
        if first:
            await asyncio.sleep(ms / 1000)
        return {"task_id": task_id, "score": 1.0, "success": True}

    def number(self, task_id: int):
        """A bare number as the result: the score is the number."""
        self.calls.append(task_id)
        return task_id / 10

    def text(self, task_id: int):
        """A string result: no score."""
        self.calls.append(task_id)
        return f"task {task_id}"

    def calls_so_far(self):
        return self.calls

    def reset(self):
        self.calls = []
        self.seen = set()
        return True
