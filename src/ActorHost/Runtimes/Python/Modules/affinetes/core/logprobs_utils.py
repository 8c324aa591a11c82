"""Per-token log-probabilities of a whole conversation, by one forward pass of the model that produced it.

Same contract as the original's `affinetes.core.logprobs_utils` (which needs the `httpx` package), written on the
standard library through this package's own HTTP client (`llm_chat`), so that nothing has to be installed:

* `format_conversation(conversation, chat_template="qwen")` renders `[{role, content}, ...]` with one of the
  templates in `CHAT_TEMPLATES` (`qwen`, `llama`, `deepseek`; an unknown name uses `qwen`) and returns
  `(text, assistant_ranges)`: the character ranges `(start, end)` of the assistant turns. Content given as a list
  of parts keeps its `{"type": "text"}` parts joined by spaces; roles the template lacks are left out.
* `await collect_full_logprobs(conversation, model, base_url, api_key, chat_template="qwen", timeout=300.0)` posts
  the rendered text to `{base_url}/completions` with `echo: true, logprobs: 20, max_tokens: 1` and returns
  `{"full": text, "token_ids": [...], "logprobs": [...]}`: one entry per token; `logprobs[i]` is the token's
  top-20 `{token: logprob}` when the token starts inside an assistant turn and the endpoint gave that mapping,
  else `None`. `token_ids` are what the original puts there: the endpoint's `text_offset` entries (character
  offsets, not vocabulary ids), or the running character position where it gave none.
* It returns `None` when the conversation has no assistant turn, the endpoint answers other than 200, or its answer
  has no choices or tokens. A connection failure or timeout raises (`APIConnectionError`, `APITimeoutError`), as the
  original's client raises its own.

Unlike the original, certificates are verified for https endpoints.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

from .llm_chat import APIStatusError, AsyncChatClient, _Http

__all__ = ["CHAT_TEMPLATES", "format_conversation", "collect_full_logprobs"]

CHAT_TEMPLATES: Dict[str, Dict[str, str]] = {
    "qwen": {
        "system": "<|im_start|>system\n{content}<|im_end|>\n",
        "user": "<|im_start|>user\n{content}<|im_end|>\n",
        "assistant": "<|im_start|>assistant\n{content}<|im_end|>\n",
    },
    "llama": {
        "system": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{content}<|eot_id|>",
        "user": "<|start_header_id|>user<|end_header_id|>\n\n{content}<|eot_id|>",
        "assistant": "<|start_header_id|>assistant<|end_header_id|>\n\n{content}<|eot_id|>",
    },
    "deepseek": {
        "system": "<|System|>{content}",
        "user": "<|User|>{content}",
        "assistant": "<|Assistant|>{content}",
    },
}


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")
    return str(content)


def format_conversation(conversation: List[Dict[str, Any]], chat_template: str = "qwen") -> Tuple[str, List[Tuple[int, int]]]:
    """The conversation rendered with the template, and the character ranges of its assistant turns."""
    template = CHAT_TEMPLATES.get(chat_template, CHAT_TEMPLATES["qwen"])
    pieces: List[str] = []
    ranges: List[Tuple[int, int]] = []
    offset = 0
    for message in conversation:
        role = message.get("role", "user")
        if role not in template:
            continue
        # str.replace, not str.format: braces in a message are text, not fields.
        rendered = template[role].replace("{content}", _text_of(message.get("content", "")))
        pieces.append(rendered)
        if role == "assistant":
            ranges.append((offset, offset + len(rendered)))
        offset += len(rendered)
    return "".join(pieces), ranges


async def collect_full_logprobs(conversation: List[Dict[str, Any]], model: str, base_url: str, api_key: str,
                                chat_template: str = "qwen", timeout: float = 300.0) -> Optional[Dict[str, Any]]:
    """One echo forward pass over the rendered conversation; see the module's documentation."""
    text, assistant_ranges = format_conversation(conversation, chat_template)
    if not text or not assistant_ranges:
        return None
    settings = AsyncChatClient(base_url, api_key, connect_timeout=float(timeout), read_timeout=float(timeout),
                               write_timeout=float(timeout))
    payload = {"model": model, "prompt": text, "max_tokens": 1, "logprobs": 20, "echo": True, "stream": False}
    try:
        response = await _Http.open(settings, payload, path="/completions")
    except APIStatusError:
        return None
    try:
        body = await response.read_all()
    finally:
        await response.close()
    if response.status != 200:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices:
        return None
    logprobs = choices[0].get("logprobs") or {}
    tokens = logprobs.get("tokens")
    if not tokens:
        return None
    top = logprobs.get("top_logprobs") or []
    offsets = logprobs.get("text_offset") or []

    token_ids: List[Any] = []
    masked: List[Optional[Dict[str, float]]] = []
    position = 0
    for i, token in enumerate(tokens):
        candidates = top[i] if i < len(top) else None
        in_assistant = any(start <= position < end for start, end in assistant_ranges)
        token_ids.append(offsets[i] if i < len(offsets) else position)
        masked.append(candidates if in_assistant and isinstance(candidates, dict) and candidates else None)
        position += len(token or "")
    return {"full": text, "token_ids": token_ids, "logprobs": masked}
