"""OpenEnv types: the answer of `reset`/`step`/`state`, and the shapes of their requests.

`OpenEnvResponse` is a dataclass with the original's fields and defaults; the host turns it into JSON with
`to_dict()` (the same keys, in the same order, as the original's server sends).
"""

from dataclasses import dataclass, field
from typing import Any, Dict, Optional


@dataclass
class OpenEnvResponse:
    """What `reset`, `step` and `state` return: an observation, its reward, and whether the episode ended."""

    observation: str
    reward: float = 0.0
    done: bool = False
    truncated: bool = False
    episode_id: Optional[str] = None
    info: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "observation": self.observation,
            "reward": self.reward,
            "done": self.done,
            "truncated": self.truncated,
            "episode_id": self.episode_id,
            "info": self.info,
        }


@dataclass
class ResetRequest:
    """Arguments of `reset`: which task, which seed, and environment-specific extras."""

    task_id: Optional[int] = None
    seed: Optional[int] = None
    kwargs: Optional[Dict[str, Any]] = None


@dataclass
class StepRequest:
    """Arguments of `step`: the action, the episode it belongs to, and step-specific extras."""

    action: str
    episode_id: Optional[str] = None
    kwargs: Optional[Dict[str, Any]] = None
