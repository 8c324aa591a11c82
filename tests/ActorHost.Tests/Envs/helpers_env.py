"""Uses the modules the host layer ships, as the original's environments do (trace, lgc-v2, openspiel, number_guess)."""
import contextlib
import io
import sys

from affinetes.core.openenv import OpenEnvResponse
from affinetes.core.llm_chat import llm_chat, create_client, remove_think_tags
from request_logger import RequestLogger, log_event, get_logger
import affinetes.core


class Actor:
    def __init__(self):
        self._clients = {}

    async def chat(self, base_url: str, prompt: str = "hello", stream: bool = True, strip_think_tags: bool = False,
                   max_retries: int = 0, chunk_timeout: float = 30.0, timeout: float = 600, max_chunks: int = 32000,
                   temperature=None, seed=None, use_client: bool = False, read_timeout: float = 20.0):
        client = None
        if use_client:  # as lgc-v2: one long-lived client per endpoint
            client = self._clients.get(base_url)
            if client is None:
                client = self._clients[base_url] = create_client(base_url, "client-key", read_timeout=read_timeout)
        try:
            result = await llm_chat(messages=[{"role": "user", "content": prompt}], model="local-test-model",
                                    base_url=base_url, api_key="test-key", timeout=timeout,
                                    chunk_timeout=chunk_timeout, temperature=temperature, seed=seed, stream=stream,
                                    max_chunks=max_chunks, max_retries=max_retries,
                                    strip_think_tags=strip_think_tags, client=client)
        except Exception as e:
            return {"error": type(e).__name__, "message": str(e)}
        content, usage = result  # the two-value form older environments unpack
        return {"content": result.content, "reasoning": result.reasoning, "usage": result.usage,
                "unpacked": [content, usage]}

    async def logprobs(self, base_url: str, conversation: list, chat_template: str = "qwen"):
        # As knowledge_eval and openspiel ask for them: imported late, failures kept as an error.
        try:
            from affinetes.core.logprobs_utils import collect_full_logprobs, format_conversation
            text, ranges = format_conversation(conversation, chat_template)
            full = await collect_full_logprobs(conversation=conversation, model="local-test-model", base_url=base_url,
                                               api_key="test-key", chat_template=chat_template)
            return {"full_logprobs": full, "text": text, "ranges": ranges}
        except Exception as e:
            return {"full_logprobs": None, "logprobs_error": f"{type(e).__name__}: {e}"}

    def think(self, text: str):
        return remove_think_tags(text)

    def reset(self, task_id: int = 0):
        return OpenEnvResponse(observation=f"task {task_id}", episode_id="ep-1", info={"task_id": task_id})

    def lazy_exports(self):
        return {"same_class": affinetes.core.OpenEnvResponse is OpenEnvResponse,
                "remove_think_tags": affinetes.core.remove_think_tags is remove_think_tags}

    async def logged(self, task_id: int, fail: bool = False):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            log_event("outside_request", level="warning", note="base")
            try:
                with RequestLogger(task_id=task_id, task_type="sat", seed=3,
                                   base_url="https://miner-7.chutes.ai/v1", extra="x") as logger:
                    log_event("llm_call_start", attempt=1)
                    get_logger().info("bound", n=2)
                    log_event("quiet", level="debug")
                    if fail:
                        raise RuntimeError("model said no")
            except RuntimeError:
                pass
            log_event("after_request")
        return out.getvalue().splitlines()

    def where(self):
        import affinetes
        import request_logger
        return {"affinetes": affinetes.__file__, "request_logger": request_logger.__file__, "path": sys.path}
