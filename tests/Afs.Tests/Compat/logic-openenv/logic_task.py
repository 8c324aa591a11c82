"""The task generator, a sibling module the environment imports by plain name (as lgc-v2 imports logic_task_v2)."""
import random
import re


class LogicTask:
    def generate(self, task_id):
        rng = random.Random(f"logic:{task_id}")
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        return {"prompt": f"What is {a} + {b}? Answer with the number.", "answer": a + b}

    def score(self, challenge, response):
        numbers = re.findall(r"-?\d+", response or "")
        return 1.0 if numbers and int(numbers[-1]) == challenge["answer"] else 0.0
