"""Compatibility environment written to the shape of the original's game/number_guess: an OpenEnv game whose
evaluate plays it against the model with the non-streaming helper, unpacking `content, usage = await llm_chat(...)`,
and a constructor with an optional argument."""
import os
import random
import re
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Optional

from affinetes.core.openenv import OpenEnvResponse
from affinetes.core.llm_chat import llm_chat


@dataclass
class EpisodeState:
    episode_id: str
    task_id: int
    target: int
    attempts_used: int = 0
    done: bool = False


class Actor:
    MAX_ATTEMPTS = 10

    def __init__(self, api_key: Optional[str] = None):
        self.api_key = api_key or os.getenv("CHUTES_API_KEY")
        self._episodes: Dict[str, EpisodeState] = {}

    def _info(self, ep: EpisodeState) -> Dict[str, Any]:
        return {"task_id": ep.task_id, "attempts_left": self.MAX_ATTEMPTS - ep.attempts_used}

    async def reset(self, task_id: Optional[int] = None, seed: Optional[int] = None) -> OpenEnvResponse:
        task_id = task_id if task_id is not None else 0
        ep = EpisodeState(uuid.uuid4().hex, task_id, random.Random(task_id).randint(1, 1000))
        self._episodes[ep.episode_id] = ep
        return OpenEnvResponse(observation="Guess a number between 1 and 1000.", episode_id=ep.episode_id,
                               info=self._info(ep))

    async def step(self, action: str, episode_id: Optional[str] = None) -> OpenEnvResponse:
        ep = self._episodes.get(episode_id)
        if ep is None:
            return OpenEnvResponse(observation="No active episode.", done=True, episode_id=episode_id)
        numbers = re.findall(r"-?\d+", str(action))
        ep.attempts_used += 1
        guess = int(numbers[0]) if numbers else None
        if guess == ep.target:
            ep.done = True
            return OpenEnvResponse(observation="Correct!", reward=1.0, done=True, episode_id=episode_id,
                                   info=self._info(ep))
        hint = "higher" if guess is None or guess < ep.target else "lower"
        ep.done = ep.attempts_used >= self.MAX_ATTEMPTS
        return OpenEnvResponse(observation=f"The number is {hint}.", done=ep.done, episode_id=episode_id,
                               info=self._info(ep))

    async def evaluate(self, model: str = "deepseek-ai/DeepSeek-V3", base_url: str = "https://llm.chutes.ai/v1",
                       task_id: Optional[int] = None, seed: Optional[int] = None, temperature: float = 0.7,
                       timeout: int = 600, api_key: Optional[str] = None):
        first = await self.reset(task_id=task_id, seed=seed)
        conversation = [{"role": "user", "content": first.observation}]
        reward = 0.0
        for _ in range(self.MAX_ATTEMPTS):
            content, usage = await llm_chat(messages=conversation, model=model, base_url=base_url,
                                            api_key=api_key or self.api_key, timeout=timeout,
                                            temperature=temperature, seed=seed, stream=False)
            conversation.append({"role": "assistant", "content": content or ""})
            step = await self.step(action=content or "", episode_id=first.episode_id)
            conversation.append({"role": "user", "content": step.observation})
            if step.done:
                reward = step.reward
                break
        return {"task_name": "number_guess", "score": reward, "success": reward > 0,
                "extra": {"turns": len(conversation) // 2}}
