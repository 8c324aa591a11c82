"""A buggy or hostile actor: the host must answer every call, stay servable, and keep its signals."""
import asyncio
import os
import signal
import threading
import time

# An actor taking SIGTERM at import: docker stop must still stop the container.
signal.signal(signal.SIGTERM, lambda *_: None)


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no message for you")


class Custom(BaseException):
    pass


class BadToDict:
    def to_dict(self):
        raise ValueError("conversion failed")


class Actor:
    h = lambda: 1  # noqa: E731 - a class attribute with no valid method signature

    def __init__(self):
        self.marks = []

    def echo(self, x=None):
        return {"x": x}

    async def async_echo(self, x=None):
        await asyncio.sleep(0)
        return {"x": x}

    def mark(self, tag: str):
        self.marks.append(tag)
        return self.marks

    def marks_seen(self):
        return self.marks

    def spin(self):
        while True:
            pass

    def thread(self):
        return threading.get_ident()

    def wait(self, seconds: float, timeout=None):
        time.sleep(seconds)  # blocking, with the original's `timeout` kwarg
        return seconds

    def block(self, seconds: float):
        time.sleep(seconds)  # a blocking C call: not interruptible
        return seconds

    def never(self):
        return asyncio.Event().wait()  # a coroutine that never finishes, from a plain method

    async def async_spin(self):
        while True:
            pass

    async def raise_async(self, kind: str):
        await asyncio.sleep(0)
        raise {"KeyboardInterrupt": KeyboardInterrupt, "SystemExit": SystemExit, "GeneratorExit": GeneratorExit,
               "Custom": Custom, "Unprintable": Unprintable}[kind]()

    def raise_sync(self, kind: str):
        raise {"KeyboardInterrupt": KeyboardInterrupt, "SystemExit": SystemExit, "Custom": Custom,
               "Unprintable": Unprintable}[kind]()

    def tuple_keys(self):
        return {(1, 2): 3}

    def bad_to_dict(self):
        return BadToDict()

    def health(self):
        return "the actor's own health method"

    def token_visible(self):
        return os.environ.get("AFFINETES_AUTH_TOKEN")
