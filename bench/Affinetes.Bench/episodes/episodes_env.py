"""The trivial interactive environment of the episodes benchmark: an episode ends after `steps` steps (10), each with
reward 0.1; nothing else is done, so the figures measure the client, the runner and the model's endpoint."""
import itertools

from affinetes.core.openenv import OpenEnvResponse

_ids = itertools.count(1)


class Actor:
    def __init__(self):
        self.episodes = {}

    def reset(self, task_id=None, seed=None, steps: int = 10):
        episode_id = f"e{next(_ids)}"
        self.episodes[episode_id] = [0, int(steps)]
        return OpenEnvResponse(observation=f"task {task_id}: move", episode_id=episode_id)

    def step(self, action: str, episode_id=None):
        episode = self.episodes[episode_id]
        episode[0] += 1
        return OpenEnvResponse(observation="move", reward=0.1, done=episode[0] >= episode[1], episode_id=episode_id)

    def stop(self, episode_id=None):
        return {"stopped": self.episodes.pop(episode_id, None) is not None}
