"""OpenEnv answers of every shape a client must read, chosen by task id (task_id % 10):
1: the episode id only in info.episode_id; 2: only in info.ident.episode_id; 3: no episode id at all; 4: reset answers a
string; 5: the first step answers episode_not_found (the environment ended the episode on its side); 6: step raises;
anything else: the id at the top level. An episode ends after 3 steps with reward 0.5 each (1.0 on the last). There is
no stop: the client falls back to close(), as the original's does."""
import uuid

from affinetes.core.openenv import OpenEnvResponse


class Actor:
    def __init__(self):
        self.episodes = {}
        self.closes = 0
        self.steps = 0

    async def reset(self, task_id=None, seed=None):
        task_id = int(task_id or 0)
        kind = task_id % 10
        if kind == 4:
            return "not an OpenEnv response"
        episode_id = uuid.uuid4().hex
        self.episodes[episode_id] = {"task_id": task_id, "steps": 0}
        observation = f"task {task_id}: reply with anything"
        info = {"task_id": task_id, "seed": seed}
        if kind == 1:
            return OpenEnvResponse(observation=observation, info={**info, "episode_id": episode_id})
        if kind == 2:
            return OpenEnvResponse(observation=observation, info={**info, "ident": {"episode_id": episode_id}})
        if kind == 3:
            return OpenEnvResponse(observation=observation, info=info)
        return OpenEnvResponse(observation=observation, episode_id=episode_id, info=info)

    async def step(self, action: str, episode_id=None):
        self.steps += 1
        ep = self.episodes.get(episode_id)
        if ep is None or ep["task_id"] % 10 == 5:
            self.episodes.pop(episode_id, None)
            return OpenEnvResponse(observation=f"Episode {episode_id} not found.", done=True, truncated=True,
                                   info={"error": {"type": "episode_not_found", "retryable": True}})
        if ep["task_id"] % 10 == 6:
            raise ValueError(f"the environment cannot take action {action[:20]!r}")
        ep["steps"] += 1
        done = ep["steps"] >= 3
        return OpenEnvResponse(observation=f"step {ep['steps']} of 3, you said {len(action)} characters",
                               reward=1.0 if done else 0.5, done=done, episode_id=episode_id,
                               info={"steps": ep["steps"], "echo": action[:40]})

    async def state(self, episode_id=None):
        ep = self.episodes.get(episode_id)
        if ep is None:
            return OpenEnvResponse(observation="not found", done=True, info={"error": {"type": "episode_not_found"}})
        return OpenEnvResponse(observation=f"{ep['steps']} steps", episode_id=episode_id, info={"steps": ep["steps"]})

    def close(self):
        self.closes += 1
        return {"closed": True}

    def counts(self):
        return {"closes": self.closes, "steps": self.steps, "open": len(self.episodes)}
