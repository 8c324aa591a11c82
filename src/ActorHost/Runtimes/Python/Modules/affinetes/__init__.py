"""The `affinetes` modules an environment can import inside an image served by Affinetes for .NET.

The Python original installs its whole package into every environment image; environments use only a few helpers
from it (`affinetes.core.openenv`, `affinetes.core.llm_chat`). The ActorHost layer ships those, written for this
project with the standard library only, under the same import paths. The original's client side (`load_env`,
`build_image_from_env` ...) belongs to the validator, not to an environment, and is not here.
"""

__version__ = "0.1.0"

_CLIENT_SIDE = {"build_image_from_env", "load_env", "list_active_environments", "cleanup_all_environments",
                "get_environment"}


def __getattr__(name):
    if name in _CLIENT_SIDE:
        raise AttributeError(
            f"affinetes.{name} is the validator's API and is not available inside an environment served by "
            "Affinetes for .NET; environments may use affinetes.core.openenv and affinetes.core.llm_chat")
    raise AttributeError(f"module 'affinetes' has no attribute {name!r}")
