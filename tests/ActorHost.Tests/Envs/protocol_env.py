"""A test environment exercising every corner of the protocol."""
import asyncio
import dataclasses
import os
from os import getcwd  # a module-level import: must never be callable over HTTP
from typing import Optional

try:
    import pydantic
except ImportError:  # pragma: no cover - the test image and the host machine both have it
    pydantic = None

CONSTRUCTED = 0


@dataclasses.dataclass
class Score:
    task_id: int
    score: float
    tags: list


if pydantic is not None:
    class Report(pydantic.BaseModel):
        name: str
        value: int


class WithToDict:
    def __init__(self, value):
        self.value = value

    def to_dict(self):
        return {"converted": self.value}


class Base:
    def inherited(self) -> str:
        return "from base"


class Actor(Base):
    """Protocol test actor."""

    def __init__(self):
        global CONSTRUCTED
        CONSTRUCTED += 1
        self.secret = "top-secret-value"
        self.callback = lambda: "instance attribute"
        self.cancelled = []
        self.started = []

    def echo(self, x: int, text: str = "hi"):
        """Returns its arguments."""
        return {"x": x, "text": text}

    def add(self, a: float, b: float = 0.5) -> float:
        return a + b

    def optional(self, value: Optional[int] = None, flag: bool = False):
        return {"value": value, "flag": flag}

    def none_default(self, name: str = None, count: int = None):
        return {"name": name, "count": count}

    def everything(self, *args, **kwargs):
        return {"args": list(args), "kwargs": kwargs}

    def identity(self, value):
        return value

    def dataclass_result(self, task_id: int):
        return Score(task_id=task_id, score=0.5, tags=["a", "b"])

    def pydantic_result(self):
        return Report(name="r", value=7)

    def to_dict_result(self):
        return WithToDict(3)

    def nested_result(self):
        return {"scores": [Score(1, 1.0, []), Score(2, 0.0, ["x"])]}

    def big_result(self, size: int):
        return "x" * size

    def deep_result(self, depth: int):
        value = []
        for _ in range(depth):
            value = [value]
        return value

    def circular_result(self):
        value = {"name": "loop"}
        value["self"] = value
        return value

    def lone_surrogate(self):
        return {"text": "before \ud800 after", "error": "bad \udc00 text"}

    def not_serialisable(self):
        return {"lock": object()}

    def nan_result(self):
        return float("nan")

    def fail(self, message: str = "boom"):
        raise ValueError(message)

    def inner_type_error(self):
        return len(5)

    def counters(self):
        return {"constructed": CONSTRUCTED, "pid": os.getpid()}

    def environment(self, name: str):
        return os.environ.get(name)

    def say(self, text: str):
        print(f"actor says: {text}", flush=True)
        return "said"

    def block(self, seconds: float):
        import time
        time.sleep(seconds)
        return seconds

    async def sleep(self, ms: int = 200, tag: str = "", marker: str = ""):
        self.started.append(tag)
        if marker:  # a side channel for tests that cannot spend a call slot to ask
            with open(marker, "a") as f:
                f.write(tag + "\n")
        try:
            await asyncio.sleep(ms / 1000)
        except asyncio.CancelledError:
            self.cancelled.append(tag)
            raise
        return {"slept_ms": ms, "tag": tag}

    async def takes_timeout(self, seconds: float, timeout: int = 600, tag: str = ""):
        """Sleeps, as a real environment that bounds its own LLM call by `timeout` would."""
        self.started.append(tag)
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled.append(tag)
            raise
        return {"timeout": timeout}

    async def async_fail(self):
        await asyncio.sleep(0)
        raise KeyError("missing-key")

    def cancellations(self):
        return {"started": self.started, "cancelled": self.cancelled}

    @staticmethod
    def static_method(value: int) -> int:
        return value * 2

    @property
    def prop(self):
        return "a property is not a method"

    def _private(self):
        return self.secret

    def __secret__(self):
        return self.secret
