"""Helpers for environments: OpenEnv types (`openenv`) and the LLM chat helper (`llm_chat`).

The names resolve lazily, as in the original, so importing `affinetes.core` costs nothing until one is used.
"""

_EXPORTS = {
    "OpenEnvResponse": "openenv",
    "ResetRequest": "openenv",
    "StepRequest": "openenv",
    "llm_chat": "llm_chat",
    "ChatResult": "llm_chat",
    "remove_think_tags": "llm_chat",
    "create_client": "llm_chat",
}

_CLIENT_SIDE = {"EnvironmentWrapper", "EnvironmentRegistry", "get_registry", "LoadBalancer", "InstanceInfo",
                "InstancePool"}


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is not None:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    if name in _CLIENT_SIDE:
        raise AttributeError(
            f"affinetes.core.{name} is part of the validator's client and is not available inside an environment "
            "served by Affinetes for .NET")
    raise AttributeError(f"module 'affinetes.core' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
