"""An environment whose methods never return, as strangers' code may: the default deadline must end them."""
import time


class Actor:
    def evaluate(self, task_id: int, timeout: float = 0.25):
        """Never returns (a sync loop); declares a `timeout` of its own, as real environments do."""
        while True:
            time.sleep(0.05)

    def stuck(self, task_id: int = 0):
        """Never returns and declares no timeout: afs call's fixed default applies."""
        while True:
            time.sleep(0.05)
