"""python-guess: an interactive (OpenEnv) example environment, a number-guessing game.

`reset(task_id, seed)` opens an episode: a secret number between 1 and 100 chosen from (task_id, seed). Each
`step(action, episode_id)` is one guess (the last integer in the action); the answer says higher or lower. Finding the
number scores 1.0 and ends the episode; after 7 guesses (enough for a binary search) it ends with 0.0. `state` shows the
episode without a move, `stop` forgets it. `evaluate` plays a whole episode against a model itself, so the environment
also runs as a one-call evaluation.

Episodes live in this process's memory: `info.replica` names the process (host name and pid), so a caller can see that
every step reached the replica that opened its episode. Only the standard library and the modules the host layer ships
(`affinetes.core`) are used, so the image builds offline.
"""

import os
import random
import re
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Optional

from affinetes.core.llm_chat import llm_chat
from affinetes.core.openenv import OpenEnvResponse

LOW, HIGH = 1, 100
MAX_GUESSES = 7
REPLICA = f"{socket.gethostname()}:{os.getpid()}"
_INTEGER = re.compile(r"-?\d+")

SYSTEM_PROMPT = (
    "You are playing a number-guessing game. Each turn, reply with your next guess: one integer, nothing else."
)


def parse_guess(action: str) -> Optional[int]:
    """The guess in an action: its last integer (a reply may explain itself first), or None."""
    numbers = _INTEGER.findall(action or "")
    return int(numbers[-1]) if numbers else None


def secret_for(task_id: int, seed: int) -> int:
    """The secret number of (task_id, seed): the same pair always gives the same number."""
    return random.Random(f"{seed}:{task_id}").randint(LOW, HIGH)


@dataclass
class Episode:
    episode_id: str
    task_id: int
    seed: int
    secret: int
    guesses: int = 0
    done: bool = False


class Actor:
    """Number guessing, one episode per reset; every episode stays in this replica's memory until stopped."""

    def __init__(self):
        self._episodes: Dict[str, Episode] = {}
        self._started = 0
        self._stopped = 0

    def _info(self, ep: Optional[Episode], error: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        info: Dict[str, Any] = {"replica": REPLICA}
        if ep is not None:
            info.update(task_id=ep.task_id, seed=ep.seed, guesses_left=MAX_GUESSES - ep.guesses)
        if error is not None:
            info["error"] = error
        return info

    def _not_found(self, episode_id: Optional[str]) -> OpenEnvResponse:
        return OpenEnvResponse(
            observation=f"Episode {episode_id} not found. Call reset() first.",
            done=True,
            truncated=True,
            episode_id=episode_id,
            info=self._info(None, {"type": "episode_not_found"}),
        )

    async def reset(self, task_id: Optional[int] = None, seed: Optional[int] = None) -> OpenEnvResponse:
        """Opens an episode of task `task_id` (random when None) with `seed` (the task id when None)."""
        task_id = int(task_id) if task_id is not None else random.randint(0, 2**31 - 1)
        seed = int(seed) if seed is not None else task_id
        ep = Episode(uuid.uuid4().hex, task_id, seed, secret_for(task_id, seed))
        self._episodes[ep.episode_id] = ep
        self._started += 1
        return OpenEnvResponse(
            observation=(
                f"I have chosen a secret integer between {LOW} and {HIGH}. You have {MAX_GUESSES} guesses; after each "
                "one I say whether the secret is higher or lower. What is your first guess?"
            ),
            episode_id=ep.episode_id,
            info=self._info(ep),
        )

    async def step(self, action: str, episode_id: Optional[str] = None) -> OpenEnvResponse:
        """One guess. A reply without an integer, or out of range, costs no guess and asks again."""
        ep = self._episodes.get(episode_id or "")
        if ep is None:
            return self._not_found(episode_id)
        if ep.done:
            return OpenEnvResponse(observation="The game is over; call reset() for a new one.", done=True,
                                   episode_id=episode_id, info=self._info(ep, {"type": "episode_done"}))
        guess = parse_guess(action)
        if guess is None:
            return OpenEnvResponse(observation="Reply with one integer: your guess.", episode_id=episode_id,
                                   info=self._info(ep, {"type": "action_parse"}))
        if not LOW <= guess <= HIGH:
            return OpenEnvResponse(observation=f"{guess} is out of range: guess between {LOW} and {HIGH}.",
                                   episode_id=episode_id, info=self._info(ep, {"type": "out_of_range"}))
        ep.guesses += 1
        if guess == ep.secret:
            ep.done = True
            return OpenEnvResponse(observation=f"Correct! The secret was {guess}; found in {ep.guesses} guesses.",
                                   reward=1.0, done=True, episode_id=episode_id, info=self._info(ep))
        if ep.guesses >= MAX_GUESSES:
            ep.done = True
            return OpenEnvResponse(observation=f"{guess} is wrong and that was the last guess: the secret was {ep.secret}.",
                                   done=True, episode_id=episode_id, info=self._info(ep))
        hint = "higher" if guess < ep.secret else "lower"
        return OpenEnvResponse(
            observation=f"{guess} is wrong: the secret is {hint}. {MAX_GUESSES - ep.guesses} guesses left. Your next guess?",
            episode_id=episode_id,
            info=self._info(ep),
        )

    async def state(self, episode_id: Optional[str] = None) -> OpenEnvResponse:
        """The episode as it is, without a move."""
        ep = self._episodes.get(episode_id or "")
        if ep is None:
            return self._not_found(episode_id)
        return OpenEnvResponse(observation=f"{ep.guesses} of {MAX_GUESSES} guesses used.", done=ep.done,
                               episode_id=episode_id, info=self._info(ep))

    async def stop(self, episode_id: Optional[str] = None) -> Dict[str, Any]:
        """Forgets the episode (idempotent)."""
        stopped = self._episodes.pop(episode_id or "", None) is not None
        if stopped:
            self._stopped += 1
        return {"status": "ok", "stopped": stopped, "episode_id": episode_id}

    def stats(self) -> Dict[str, Any]:
        """Episodes of this replica: open now, started and stopped since it began."""
        return {"replica": REPLICA, "open": len(self._episodes), "started": self._started, "stopped": self._stopped}

    async def evaluate(
        self,
        task_id: int,
        model: str = "deepseek-ai/DeepSeek-V3",
        base_url: str = "https://llm.chutes.ai/v1",
        seed: Optional[int] = None,
        timeout: float = 120,
        temperature: float = 0.0,
        **kwargs,
    ) -> Dict[str, Any]:
        """Plays one episode against `model` at `base_url` (key from $CHUTES_API_KEY): score 1.0 when it finds the number.

        Failures of the model side do not raise: the result has score 0.0, success False and an `error` message.
        """
        started = time.monotonic()
        first = await self.reset(task_id=task_id, seed=seed)
        conversation = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": first.observation}]
        result: Dict[str, Any] = {"task_id": task_id, "seed": first.info["seed"], "model": model, "score": 0.0,
                                  "success": False, "guesses": 0}
        try:
            for _ in range(MAX_GUESSES * 2):
                content, _usage = await llm_chat(messages=conversation, model=model, base_url=base_url,
                                                 api_key=os.environ.get("CHUTES_API_KEY", ""), timeout=timeout,
                                                 temperature=temperature, stream=False)
                conversation.append({"role": "assistant", "content": content or ""})
                step = await self.step(action=content or "", episode_id=first.episode_id)
                conversation.append({"role": "user", "content": step.observation})
                if step.done:
                    result["score"] = step.reward
                    result["success"] = step.reward > 0
                    break
        except Exception as e:  # never let a model-side failure fail the whole evaluation
            result["error"] = f"{type(e).__name__}: {e}"
        finally:
            ep = self._episodes.get(first.episode_id)
            result["guesses"] = ep.guesses if ep else 0
            await self.stop(episode_id=first.episode_id)
        result["turns"] = (len(conversation) - 2) // 2
        result["latency_ms"] = int(round((time.monotonic() - started) * 1000))
        return result
