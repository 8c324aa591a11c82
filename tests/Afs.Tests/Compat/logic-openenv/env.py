"""Compatibility environment written to the shapes of the original's primeintellect/lgc-v2 (also trace, openspiel).

What it exercises, as those environments do: `affinetes.core.openenv` and `affinetes.core.llm_chat` from the injected
layer, `request_logger` from /app, a sibling module imported by plain name, `Actor = OtherClass`, an async evaluate
whose optional parameters are `x: int = None` (callers send null), OpenEnv reset/step/state/stop, keyword-only
parameters with **kwargs, a private `_prompt` method, and one long-lived LLM client per endpoint.
"""
import os
import time
import uuid
from collections import OrderedDict
from typing import Optional

from request_logger import RequestLogger, log_event

from affinetes.core.openenv import OpenEnvResponse
from affinetes.core.llm_chat import llm_chat, create_client

import logic_task


class LogicActor:
    def __init__(self):
        self.api_key = os.getenv("CHUTES_API_KEY")
        self.logic_task = logic_task.LogicTask()
        self._client_cache = OrderedDict()
        self._episodes = {}

    def _prompt(self):
        return "a private helper: the original serves it, we do not"

    def _client(self, base_url, api_key):
        key = f"{base_url}:{(api_key or '')[:10]}"
        if key not in self._client_cache:
            log_event("client_created", cache_size=len(self._client_cache))
            self._client_cache[key] = create_client(base_url, api_key)
        return self._client_cache[key]

    async def evaluate(self, model="deepseek-ai/DeepSeek-V3", base_url="https://llm.chutes.ai/v1", timeout=600,
                       temperature=None, api_key: str = None, task_id: int = None, seed: int = None):
        start = time.time()
        current_api_key = api_key or self.api_key
        logger = RequestLogger(task_id=task_id, task_type="logic", seed=seed, model=model, base_url=base_url)
        logger.__enter__()
        challenge = self.logic_task.generate(task_id)
        log_event("challenge_generated")
        result = await llm_chat(messages=[{"role": "user", "content": challenge["prompt"]}], model=model,
                                base_url=base_url, api_key=current_api_key, max_chunks=64_000,
                                temperature=temperature, seed=seed, stream=True,
                                client=self._client(base_url, current_api_key))
        score = self.logic_task.score(challenge, result.content)
        log_event("request_complete", score=score, total_time_ms=int((time.time() - start) * 1000))
        return {"task_name": "logic", "score": score, "success": score > 0,
                "extra": {"task_id": task_id, "task_id_type": type(task_id).__name__, "seed": seed,
                          "timeout": timeout, "reasoning": result.reasoning, "usage": result.usage}}

    async def reset(self, task_id: Optional[int] = None, seed: Optional[int] = None) -> OpenEnvResponse:
        episode_id = uuid.uuid4().hex
        challenge = self.logic_task.generate(task_id)
        self._episodes[episode_id] = {"challenge": challenge, "done": False}
        return OpenEnvResponse(observation=challenge["prompt"], episode_id=episode_id,
                               info={"task_id": task_id, "seed": seed})

    async def step(self, action: str, episode_id: Optional[str] = None) -> OpenEnvResponse:
        episode = self._episodes.get(episode_id)
        if episode is None:
            return OpenEnvResponse(observation="No active episode. Call reset() first.", done=True,
                                   episode_id=episode_id, info={"error": "no_episode"})
        score = self.logic_task.score(episode["challenge"], str(action))
        episode["done"] = True
        return OpenEnvResponse(observation="correct" if score else "wrong", reward=score, done=True,
                               episode_id=episode_id, info={"action_type": type(action).__name__})

    async def state(self, episode_id: Optional[str] = None) -> OpenEnvResponse:
        episode = self._episodes.get(episode_id)
        return OpenEnvResponse(observation=episode["challenge"]["prompt"] if episode else "",
                               done=bool(episode and episode["done"]), episode_id=episode_id)

    async def stop(self, episode_id: Optional[str] = None):
        found = self._episodes.pop(episode_id, None) is not None
        return {"status": "ok", "stopped": found, "episode_id": episode_id}

    async def configure(self, *, difficulty: int = 1, **options):
        return {"difficulty": difficulty, "options": options}


Actor = LogicActor
